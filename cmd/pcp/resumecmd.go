package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// rerunCommand is the command line to paste to run cmd again as the user
// ran it: "pcp receive -o ~/Downloads --direct ADDR lemon-orbit-tiger-salad".
// It repeats every flag that was set (but --passphrase) and ends with
// words; words == "" leaves them out (they came from a prompt or the
// environment, and are not printed where they were not typed).
func rerunCommand(cmd *cobra.Command, words string) string {
	parts := []string{"pcp"}
	if cmd != nil {
		parts = append(parts, strings.Fields(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()))...)
		cmd.Flags().Visit(func(f *pflag.Flag) {
			if f.Name == "passphrase" {
				return
			}
			parts = append(parts, flagArgs(f)...)
		})
	}
	if words != "" {
		parts = append(parts, words)
	}
	return strings.Join(parts, " ")
}

// flagArgs renders one set flag: "--name" for a true bool, "--name=value"
// once per value of a repeatable flag, else "--name value".
func flagArgs(f *pflag.Flag) []string {
	name := "--" + f.Name
	if f.Name == "output" {
		name = "-o" // as the examples write it
	}
	switch v := f.Value.(type) {
	case pflag.SliceValue:
		var out []string
		for _, s := range v.GetSlice() {
			out = append(out, name, shellQuote(s))
		}
		return out
	}
	if f.Value.Type() == "bool" {
		if f.Value.String() == "true" {
			return []string{name}
		}
		return []string{name + "=false"}
	}
	return []string{name, shellQuote(f.Value.String())}
}

// argWords is the passphrase when it was typed as arguments, else "".
func argWords(args []string) string {
	return strings.TrimSpace(strings.Join(args, " "))
}
