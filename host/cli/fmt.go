package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/weirhq/weir/host/config"
)

// fmtCmd rewrites HCL files in canonical format; -check only reports.
func fmtCmd(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "fmt", "[-check] [FILE...]")
	check := fs.Bool("check", false, "do not write; exit 1 and list the files that are not formatted")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		matches, _ := filepath.Glob("*.hcl")
		files = matches
	}
	if len(files) == 0 {
		return usageError("no .hcl files here; name the files to format")
	}
	changed, err := config.FormatFiles(files, *check)
	for _, f := range changed {
		fmt.Fprintln(e.stdout, f)
	}
	if err != nil {
		return configError(err)
	}
	if *check && len(changed) > 0 {
		fmt.Fprintf(e.stderr, "weir fmt: %d file(s) not in canonical format; run \"weir fmt\"\n", len(changed))
		return silent(ExitFailure)
	}
	return nil
}
