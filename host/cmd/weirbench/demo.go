package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// demoOrders is the size of the demo's Black Friday burst.
const demoOrders = 5000

// demoRows runs `weir dev -until-drained` on the default pipeline (the
// vendor sandboxes in-process, 5,000 orders, the ERP at 99 requests per
// 4 s) and reports what its summary proved: the time to accept the burst,
// the time to drain it, and the ERP's rate used against its limit.
func demoRows(bin string) []row {
	dir, err := os.MkdirTemp("", "weirbench-demo-")
	if err != nil {
		fatal(err)
	}
	atExit(func() { os.RemoveAll(dir) })
	src, err := os.ReadFile("pipeline.hcl")
	if err != nil {
		fatal(fmt.Errorf("demo: run make bench from the repository root: %w", err))
	}
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), src, 0o644); err != nil {
		fatal(err)
	}
	weir := filepath.Join(bin, "weir")
	run := func(args ...string) []byte {
		cmd := exec.Command(weir, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			fatal(fmt.Errorf("weir %v: %v\n%s", args, err, tailLines(out.String(), 30)))
		}
		return out.Bytes()
	}
	run("plugins", "lock", "-plugin-dir", bin)
	start := time.Now()
	out := run("dev", "-until-drained", "-orders", fmt.Sprint(demoOrders), "-per", "4s", "-plugin-dir", bin, "-listen", "127.0.0.1:0")
	wall := time.Since(start)

	m := regexp.MustCompile(`burst of (\d+) accepted in ([0-9.a-zµ]+), drained in ([0-9.a-zµ]+); ERP used at (\d+)% of its limit`).FindSubmatch(out)
	w := regexp.MustCompile(`at most (\d+) ERP requests in any (\S+) \(limit (\d+); (\d+) requests in all\)`).FindSubmatch(out)
	d := regexp.MustCompile(`ok   (\d+) orders of \$5,000 or more delivered exactly once`).FindSubmatch(out)
	if m == nil || w == nil || d == nil {
		fatal(fmt.Errorf("demo: no summary in the output:\n%s", tailLines(string(out), 30)))
	}
	return []row{
		{figure: fmt.Sprintf("demo: %d orders accepted durably from the CRM sandbox", demoOrders), weir: string(m[2]),
			reference: fmt.Sprintf("%s whole run incl. sandboxes and seeding", wall.Round(time.Second)), ratio: "", target: "(none in §8)"},
		{figure: fmt.Sprintf("demo: %s orders delivered to the ERP sandbox, drained", d[1]), weir: string(m[3]),
			reference: fmt.Sprintf("%s ERP requests at 99 per 4 s", w[4]), ratio: "", target: "about two minutes"},
		{figure: "demo: ERP rate used vs its limit", weir: fmt.Sprintf("%s%% mean, most %s in any %s", m[4], w[1], w[2]),
			reference: fmt.Sprintf("limit %s per %s", w[3], w[2]), ratio: "", target: "never over, ≥ 97% while work waits"},
	}
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
