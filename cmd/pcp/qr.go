package main

import (
	"fmt"

	"github.com/skip2/go-qrcode"
)

// showQR prints a QR code of the receive command under the passphrase
// (send --qr), for a phone or a second screen. Nothing in JSON mode: the
// "passphrase" event carries the command.
func (u *ui) showQR(command string) error {
	if u.mode == modeJSON {
		return nil
	}
	q, err := qrcode.New(command, qrcode.Low)
	if err != nil {
		return fmt.Errorf("--qr: %w", err)
	}
	u.say("%s", q.ToSmallString(false))
	return nil
}
