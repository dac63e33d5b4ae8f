package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// The exchange before the manifest on a control stream (engine/wire's doc):
// the sender says Wait while it hashes, then declares the manifest in a
// ManifestInfo; the receiver checks the declaration before it stores a
// byte and holds the sender to it (readManifest).

// awaitSource waits until the sender's manifest is ready, telling the
// receiver every wire.WaitEvery that it is still hashing: the receiver gives
// up on a control stream that stays silent.
func awaitSource(ctx context.Context, w io.Writer, ready <-chan struct{}) error {
	t := time.NewTicker(wire.WaitEvery)
	defer t.Stop()
	for {
		select {
		case <-ready:
			return nil
		case <-t.C:
			if err := wire.WriteFrame(w, wire.TWait, nil); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeManifestInfo declares t to the receiver, with the offer's flags
// (wire.FlagText, or 0).
func writeManifestInfo(w io.Writer, t *manifest.Table, flags uint8) error {
	info := wire.ManifestInfo{Entries: uint64(t.Len()), Encoded: uint64(t.EncodedSize()), FileBytes: uint64(t.TotalSize()), Flags: flags}
	return wire.WriteFrame(w, wire.TManifestInfo, info.Append(nil))
}

// Bounds on a declared manifest, beyond manifest.DefaultLimits.
const (
	// maxManifestBytes bounds a manifest's encoding. A tree at
	// DefaultLimits.MaxEntries (10 million) with 100-byte paths and 10 TiB
	// of 1 MiB chunks encodes in about 1.5 GiB; this leaves room for paths
	// five times as long.
	maxManifestBytes = 8 << 30
	// minManifestBytes is the encoding of an empty manifest: header and
	// trailer.
	minManifestBytes = 9 + 9
	// manifestIndexBytes is what manifest.DecodeTable's index stores per
	// entry beside the encoding.
	manifestIndexBytes = 8
)

// checkManifestInfo refuses a declaration no manifest within the limits
// could match (ErrPeerMisbehaving), or one whose table would not fit in
// the state directory (ErrInterrupted and ErrNoSpace; free reports free
// bytes, and false when it cannot tell).
func checkManifestInfo(info wire.ManifestInfo, stateDir string, free func(string) (int64, bool)) error {
	lim := manifest.DefaultLimits
	switch {
	case info.Entries > uint64(lim.MaxEntries):
		return fmt.Errorf("%w: the sender declares %d entries, more than %d", ErrPeerMisbehaving, info.Entries, lim.MaxEntries)
	case info.FileBytes > uint64(lim.MaxTotalSize):
		return fmt.Errorf("%w: the sender declares %d bytes of files, more than %d", ErrPeerMisbehaving, info.FileBytes, lim.MaxTotalSize)
	case info.Encoded > maxManifestBytes:
		return fmt.Errorf("%w: the sender declares a manifest of %d bytes, more than %d", ErrPeerMisbehaving, info.Encoded, int64(maxManifestBytes))
	case info.Encoded < minManifestBytes || info.Encoded > maxEncoding(info):
		return fmt.Errorf("%w: the sender declares a manifest of %d bytes, which %d entries of %d bytes cannot have",
			ErrPeerMisbehaving, info.Encoded, info.Entries, info.FileBytes)
	}
	need := int64(info.Encoded + manifestIndexBytes*info.Entries)
	if n, ok := free(stateDir); ok && need > n {
		return fmt.Errorf("%w: %w: the manifest needs %d bytes in %s, which has %d free", ErrInterrupted, ErrNoSpace, need, stateDir, n)
	}
	return nil
}

// maxEncoding is the longest encoding of info.Entries entries holding
// info.FileBytes bytes: every entry at its longest (a symlink with a path
// and a target of MaxPathLen), and a chunk hash for every MinChunkSize of
// file bytes plus one per entry. The bounds checked before keep it far from
// overflow.
func maxEncoding(info wire.ManifestInfo) uint64 {
	// tag, kind, path length; path and target; the fixed fields
	entry := 4 + 2*uint64(manifest.DefaultLimits.MaxPathLen) + 20
	chunks := info.FileBytes/manifest.MinChunkSize + info.Entries
	return minManifestBytes + info.Entries*entry + chunks*manifest.HashSize
}
