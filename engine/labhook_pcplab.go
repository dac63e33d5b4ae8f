//go:build pcplab

package engine

import "os"

// LabCorruptSeedEnv, in the network lab's builds (-tags pcplab) only, makes
// a seeding receiver flip one byte of every chunk it serves: the lab's
// corrupt source (discovery/lab, TestLabSwarmCorruptSource). A hostile
// peer needs no such switch; the lab needs a real pcp process that
// misbehaves on the wire after receiving honestly.
const LabCorruptSeedEnv = "PCP_LAB_CORRUPT_SEED"

var labCorruptSeed = os.Getenv(LabCorruptSeedEnv) != ""
