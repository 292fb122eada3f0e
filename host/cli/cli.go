// Package cli is the weir command line: it parses arguments, runs one
// command and returns its exit code (0 success, 1 runtime failure, 2 usage
// or configuration error).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// DefaultConfig is the pipeline file used without -config.
const DefaultConfig = "pipeline.hcl"

// exitError carries an exit code with its message. An empty message means
// the command already printed what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is an exit-2 error.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// configError wraps err as an exit-2 error.
func configError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitUsage, err: err}
}

// silent returns an error with code whose message was already printed.
func silent(code int) error { return &exitError{code: code} }

// env is what a command sees of the world.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"run":      {"run every pipeline until SIGTERM, then drain", runCmd},
		"validate": {"parse and check the configuration and connector schemas", validateCmd},
		"fmt":      {"rewrite HCL files in canonical format", fmtCmd},
		"plugins":  {"lock | list: pin connector checksums, list connectors", pluginsCmd},
		"status":   {"pipelines, queues, dead letters and rate use", statusCmd},
		"dlq":      {"list | show | replay | drop PIPELINE [ID...]: dead letters", dlqCmd},
		"auth":     {"login CONNECTION | status | rotate-key: OAuth 2.0 tokens", authCmd},
		"version":  {"print the version", versionCmd},
		"dev":      {"run pipeline.hcl against the vendor sandboxes with demo data and a Black Friday burst", devCmd},
		"plan":     {"dry run: what each record would become (create, update, skip, reject), writing nothing", planCmd},
		"sandbox":  {"[NAME...]: run vendor sandboxes standalone, for connector work", sandboxCmd},
	}
}

// Version is weir's version.
const Version = "0.1.0"

// Main runs the command line args (without the program name) and returns
// the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "weir: unknown command %q\n\n", args[0])
		usage(stderr)
		return ExitUsage
	}
	err := cmd.run(ctx, e, args[1:])
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	code := ExitFailure
	var xe *exitError
	if errors.As(err, &xe) {
		code = xe.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "weir %s: %s\n", args[0], msg)
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Weir keeps a CRM and an ERP in step.\n\nUsage: weir COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"weir COMMAND -h\" for a command's flags.")
}

// newFlags returns a flag set that reports errors as usage errors.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("weir "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: weir %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns a flag error into an exit-2 error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return silent(ExitUsage)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func versionCmd(_ context.Context, e *env, args []string) error {
	fmt.Fprintf(e.stdout, "weir %s (plugin protocol 1)\n", Version)
	return nil
}
