// Command fewshot trains, evaluates, calibrates, exports, imports, inspects and
// benchmarks few-shot image classification models.
//
// Usage:
//
//	fewshot <command> [flags]
//
// Run "fewshot help" for the list of commands and "fewshot <command> -h" for
// the flags of one. Exit status is 0 on success, 1 on a runtime error and 2 on
// a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
)

// command is one subcommand of the fewshot tool.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name. It returns
	// a usageError for bad flags or arguments.
	run func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv carries the streams a command writes to, so tests can run commands
// in-process.
type cmdEnv struct {
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]*command{}

// register adds a command; called from init functions, one file per command.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("fewshot: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError marks an error as the user's misuse of flags or arguments
// (exit status 2) rather than a failure while running (exit status 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(runMain(ctx, &cmdEnv{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

// envDebug names the environment variable that, set to 1, adds the stack
// trace to the report of an internal error.
const envDebug = "FEWSHOT_DEBUG"

// runMain dispatches to a command and maps its error to an exit status.
// A panic in the command's goroutine is a bug in this program: the user
// gets one line saying so and asking for a report, exit status 1, and the
// stack trace only when FEWSHOT_DEBUG=1.
func runMain(ctx context.Context, env *cmdEnv, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(env.stderr, "fewshot: internal error: %v\n"+
				"This is a bug in fewshot; please report it with the command you ran"+
				" (run again with %s=1 to include the details).\n", r, envDebug)
			if os.Getenv(envDebug) == "1" {
				env.stderr.Write(debug.Stack())
			}
			code = 1
		}
	}()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "fewshot: unknown command %q\n\n", args[0])
		printUsage(env.stderr)
		return 2
	}
	err := c.run(ctx, env, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(env.stderr, "fewshot %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(env.stderr, "fewshot %s: %v\n", c.name, err)
		return 1
	}
}

// errHelp is returned by a command that printed its help because -h was given.
var errHelp = errors.New("help requested")

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "fewshot: few-shot image classification (train, evaluate, export, run ONNX models)")
	fmt.Fprintln(w, "\nUsage:\n  fewshot <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"fewshot <command> -h\" for a command's flags and examples.")
}

// indent is used by commands to format example blocks in their help text.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
