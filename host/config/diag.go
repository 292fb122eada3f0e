package config

import (
	"cmp"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// SortDiagnostics sorts diagnostics in source order: those without a
// subject first, then by file name and position.
func SortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		return cmp.Or(
			cmp.Compare(a.Subject.Filename, b.Subject.Filename),
			cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte),
		)
	})
}

// FormatDiagnostics writes one line per diagnostic, in source order:
// "file:line:col: summary: detail", with "warning: " before the summary of
// warnings. Details are joined into one line.
func FormatDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	sorted := slices.Clone(diags)
	SortDiagnostics(sorted)
	var b strings.Builder
	for _, diag := range sorted {
		if diag.Subject != nil {
			b.WriteString(pos(*diag.Subject))
			b.WriteString(": ")
		}
		if diag.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		}
		b.WriteString(diag.Summary)
		if detail := strings.Join(strings.Fields(diag.Detail), " "); detail != "" {
			b.WriteString(": ")
			b.WriteString(detail)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// diagError is an error made of diagnostics, formatted by
// FormatDiagnostics.
type diagError hcl.Diagnostics

func (e diagError) Error() string {
	var b strings.Builder
	_ = FormatDiagnostics(&b, hcl.Diagnostics(e))
	return strings.TrimSuffix(b.String(), "\n")
}
