//go:build !pcplab

package engine

// labCorruptSeed is false outside the network lab's builds
// (labhook_pcplab.go): a seeding receiver serves what it verified.
const labCorruptSeed = false
