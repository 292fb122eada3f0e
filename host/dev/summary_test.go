package dev

import (
	"strings"
	"testing"
	"time"
)

// TestSummaryUse checks that the ERP's use is shown only when orders waited
// a whole window: a mean over no windows is not 0%.
func TestSummaryUse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sum     Summary
		want    string
		notWant string
	}{
		{"measured", Summary{Orders: 10, Limit: 99, Window: 4 * time.Second, Utilisation: 0.981, UseWindows: 12},
			"ERP used at 98% of its limit on average while orders waited", "not measured"},
		{"never waited", Summary{Orders: 10, Limit: 99, Window: 6 * time.Second},
			"orders never waited a whole 6s for the ERP, so its use is not measured", "ERP used at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printSummary(&b, tc.sum)
			if !strings.Contains(b.String(), tc.want) || strings.Contains(b.String(), tc.notWant) {
				t.Errorf("summary lacks %q or has %q:\n%s", tc.want, tc.notWant, b.String())
			}
		})
	}
}
