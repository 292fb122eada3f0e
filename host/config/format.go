package config

import (
	"bytes"
	"errors"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL formatting. src should parse; Format
// does not check it.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// FormatFiles formats the files in place, or only checks them when check is
// true, and returns the files whose formatting differs (changed, or to
// change). A file that cannot be read or does not parse is left alone and
// reported in the error as file:line:col; the other files are still
// processed.
func FormatFiles(paths []string, check bool) (changed []string, err error) {
	var errs []error
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos); diags.HasErrors() {
			errs = append(errs, diagError(onlyErrors(diags)))
			continue
		}
		out := hclwrite.Format(src)
		if bytes.Equal(out, src) {
			continue
		}
		changed = append(changed, p)
		if check {
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.WriteFile(p, out, info.Mode().Perm()); err != nil {
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}

// onlyErrors drops warnings.
func onlyErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}
