// Command pcp sends files and directories from one computer to another,
// peer to peer, authenticated by a short passphrase (PAKE), resumable, and
// verified chunk by chunk with BLAKE3.
//
//	pcp send PATH...          offer files; prints the passphrase at once
//	pcp send --text TEXT      offer a short message, which the receiver prints
//	pcp receive [WORDS]       fetch them (asks y/N first; resumes by itself)
//	pcp node                  run a bootstrap / DHT / relay node
//	pcp verify DIR            re-check a received tree against its manifest
//	pcp status [--prune]      list (or clean up) transfers in the resume log
//	pcp version
//
// Invariants of this package:
//   - It is the only place in pcp that prints, prompts or exits. The engine
//     reports through engine.Event callbacks; one ui value turns them into
//     a terminal progress bar, occasional plain lines (not a TTY) or JSON
//     lines (--json), and nothing else writes progress.
//   - With --json, stdout carries only JSON events, one per line; prompts
//     and human messages go to stderr.
//   - Every failure ends as one line on stderr and an exit code from the
//     table in exitcode.go (0 only when every file is complete and
//     verified). context.Canceled is never shown as an error: Ctrl-C is
//     "interrupted", exit 5, with a hint on how to resume.
//   - The passphrase is printed (send) or read (receive) by this package
//     only; it is never logged: auth.Passphrase redacts itself in slog.
//   - It imports engine and auth only, never discovery/store/manifest.
package main
