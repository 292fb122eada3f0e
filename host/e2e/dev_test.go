package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevProvesThePromise runs the default pipeline.hcl with weir dev and a
// smaller Black Friday burst, on the embedded store and on Redis: every
// order of $5,000 or more reaches the NetSuite sandbox exactly once with its
// status back on the Salesforce order, the rest are skipped, bad units and
// countries are dead-lettered, and the ERP's limit is never exceeded, as
// the sandbox's own records and request log show. The minute is scaled to
// 6 s (as in the multi-host rate test): at 3 s, the time a granted request
// takes to reach the sandbox on a busy machine is a visible share of the
// pacing interval, and once let 101 requests into one window.
func TestDevProvesThePromise(t *testing.T) {
	pipeline, err := os.ReadFile(filepath.Join("..", "..", "pipeline.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) {
			w := newWorkspace(t)
			w.write("pipeline.hcl", string(pipeline))
			w.lock()
			args := []string{"dev", "-until-drained", "-orders", "250", "-per", "6s", "-plugin-dir", binDir, "-listen", freeAddr(t)}
			if store == "redis" {
				args = append(args, "-redis", redisURL(t))
			}
			out, errOut, code := w.weir(args...)
			if code != 0 {
				t.Fatalf("weir dev: exit %d\n%s\n%s", code, tail(out, 40), errOut)
			}
			for _, want := range []string{
				"orders of $5,000 or more delivered exactly once",
				"no duplicates in the ERP (0)",
				"ERP number and status back on",
				"orders under $5,000 skipped, none in the ERP (0 there)",
				"dead-lettered", `unknown unit "Bundle"`, `unknown country "Atlantis"`,
				"ERP requests in any 6s (limit 99;",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("summary lacks %q:\n%s", want, tail(out, 20))
				}
			}
			if strings.Contains(out, "FAIL") {
				t.Errorf("summary:\n%s", tail(out, 20))
			}
			t.Log(tail(out, 12))
		})
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
