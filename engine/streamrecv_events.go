package engine

import "errors"

// Errors particular to receiving a stream (pcp send -).
var (
	// ErrStreamGone: the sender keeps no spool (no StreamSpooled) and no
	// longer holds a chunk this receiver still needs (wire.CodeGone): the
	// stream cannot be resumed, only sent again.
	ErrStreamGone = errors.New("the sender no longer holds part of the stream (it keeps no spool): this stream cannot be resumed")
	// ErrStreamTooLarge: a stream written to a file grew past
	// ReceiveOptions.MaxStream. Nothing past the bound was written.
	ErrStreamTooLarge = errors.New("the stream is larger than allowed")
)

// StreamOffer describes a stream offer (Offer.Stream, StreamOfferEvent).
type StreamOffer struct {
	Name      string // the file name it is written to (without Stdout)
	ID        string // the stream's id, hex: random per pcp send
	ChunkSize uint32
	// Spooled: the sender keeps every chunk, so a receive cut off can
	// resume. Without it, chunks served are gone from the sender.
	Spooled bool
	// ResumeBytes were verified by an earlier run into the same file and
	// are kept; Restarted says a partial of another stream of the same
	// name was found and discarded.
	ResumeBytes int64
	Restarted   bool
	// Stdout: the stream goes to ReceiveOptions.Stdout, from byte 0.
	Stdout bool
}

// StreamOfferEvent (receiver): the sender offers a stream; its size is
// unknown until it ends.
type StreamOfferEvent struct{ Offer StreamOffer }

func (StreamOfferEvent) isEvent() {}
