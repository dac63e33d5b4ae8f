package manifest

import (
	"sync"
	"time"
)

// Walk's progress reports: serialized, and throttled to progressEvery.

// progress serializes and throttles WalkProgress reports.
type progress struct {
	fn   func(WalkProgress)
	mu   sync.Mutex
	p    WalkProgress
	last time.Time
}

const progressEvery = 50 * time.Millisecond

// add counts scanned entries and bytes (phase "scan": the totals grow).
func (pr *progress) add(files, bytes int64, cur string) {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Files += files
	pr.p.Bytes += bytes
	pr.p.FilesTotal, pr.p.BytesTotal = pr.p.Files, pr.p.Bytes
	pr.p.Current = cur
	pr.maybe()
}

// done counts hashed files and bytes. Files found since the scan can take
// the counts past the totals, which then follow them.
func (pr *progress) done(files, bytes int64, cur string) {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Files += files
	pr.p.Bytes += bytes
	pr.p.FilesTotal = max(pr.p.FilesTotal, pr.p.Files)
	pr.p.BytesTotal = max(pr.p.BytesTotal, pr.p.Bytes)
	pr.p.Current = cur
	pr.maybe()
}

// grow adjusts the totals for a file that changed or went since the scan.
func (pr *progress) grow(files, bytes int64) {
	pr.mu.Lock()
	pr.p.FilesTotal += files
	pr.p.BytesTotal += bytes
	pr.mu.Unlock()
}

// settle makes the totals what the hash phase found, for its last report.
func (pr *progress) settle() {
	pr.mu.Lock()
	pr.p.FilesTotal, pr.p.BytesTotal = pr.p.Files, pr.p.Bytes
	pr.mu.Unlock()
}

func (pr *progress) maybe() {
	if now := time.Now(); now.Sub(pr.last) >= progressEvery {
		pr.last = now
		pr.fn(pr.p)
	}
}

// flush reports the current state unconditionally.
func (pr *progress) flush() {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.last = time.Now()
	pr.fn(pr.p)
}
