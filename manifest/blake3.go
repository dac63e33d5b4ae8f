package manifest

import (
	"math/bits"

	"lukechampine.com/blake3"
	"lukechampine.com/blake3/guts"
)

// sum256 is blake3.Sum256 on the calling goroutine, without allocating.
//
// The library's Sum256 of more than one 1 KiB BLAKE3 chunk goes through
// Hasher.Write, which starts a goroutine per power-of-two subtree (ten for
// a 1 MiB chunk, two for 4 KiB) and allocates for each. pcp already hashes
// on as many goroutines as it has streams or walkers, so the fan-out buys
// nothing and costs the scheduler and the collector. Here the same tree is
// built serially: subtrees of at most 16 chunks, each compressed with the
// library's SIMD kernel (guts.CompressBuffer), merged on a stack exactly as
// Hasher does, and the last chunk kept back for the root. Tested against
// blake3.Sum256 at every length around the chunk and subtree boundaries.
func sum256(b []byte) (out Hash) {
	if len(b) <= guts.ChunkSize {
		return blake3.Sum256(b) // one compression, no goroutine
	}
	const simd = guts.MaxSIMD * guts.ChunkSize
	var (
		stack   [64][8]uint32
		counter uint64 // chunks pushed; bit i set: stack[i] holds a subtree of 2^i
		buf     [simd]byte
	)
	push := func(cv [8]uint32, height int) {
		i := height
		for counter&(1<<i) != 0 {
			cv = guts.ChainingValue(guts.ParentNode(stack[i], cv, &guts.IV, 0))
			i++
		}
		stack[i] = cv
		counter += 1 << height
	}
	last := len(b) % guts.ChunkSize
	if last == 0 {
		last = guts.ChunkSize
	}
	body := b[:len(b)-last]
	for len(body) > 0 {
		chunks := uint64(len(body) / guts.ChunkSize)
		height := min(bits.TrailingZeros64(counter), bits.Len64(min(chunks, guts.MaxSIMD))-1)
		n := (1 << height) * guts.ChunkSize
		var node guts.Node
		switch {
		case height == 0:
			node = guts.CompressChunk(body[:n], &guts.IV, counter, 0)
		case n == simd:
			node = guts.CompressBuffer((*[simd]byte)(body[:simd]), simd, &guts.IV, counter, 0)
		default:
			copy(buf[:], body[:n])
			node = guts.CompressBuffer(&buf, n, &guts.IV, counter, 0)
		}
		push(guts.ChainingValue(node), height)
		body = body[n:]
	}
	root := guts.CompressChunk(b[len(b)-last:], &guts.IV, counter, 0)
	for i := bits.TrailingZeros64(counter); i < bits.Len64(counter); i++ {
		if counter&(1<<i) != 0 {
			root = guts.ParentNode(stack[i], guts.ChainingValue(root), &guts.IV, 0)
		}
	}
	root.Flags |= guts.FlagRoot
	words := guts.WordsToBytes(guts.CompressNode(root))
	copy(out[:], words[:])
	return out
}
