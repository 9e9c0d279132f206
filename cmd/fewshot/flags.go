package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlagSet returns a flag set for a command whose help text shows usage,
// a description and examples, and whose parse errors become usage errors.
func newFlagSet(env *cmdEnv, name, usage, description, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet("fewshot "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := env.stdout
		fmt.Fprintf(w, "Usage:\n  fewshot %s %s\n\n%s\n\nFlags:\n", name, usage, description)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", indent(examples))
		}
	}
	return fs
}

// parseFlags parses args and turns parse errors into usage errors. For -h
// the flag package has already printed the help (fs.Usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

// parseFlagsNoArgs is parseFlags for commands that take flags only: a
// positional argument is a usage error.
func parseFlagsNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}
