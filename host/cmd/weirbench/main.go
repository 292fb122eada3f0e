// Command weirbench measures Weir against the brief's targets (§8) and
// prints each figure beside a reference measured in the same run on the
// same machine: `make bench`.
//
// It starts real `weir run` processes from -bin in temporary workspaces.
// The Redis rows use the Redis at -redis (WEIR_BENCH_REDIS_URL, else
// redis://127.0.0.1:6379/0) under pipeline and connection names unique to
// the run, and delete every key they made before exiting. Cheap figures are
// measured several times and the best is reported, as the table says.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// cpuProfile, when set, profiles the daemons.
var cpuProfile string

// runID makes this run's pipeline, connection and key names unique among
// the runs and tests sharing a Redis.
var runID = fmt.Sprintf("wb%d%04x", os.Getpid(), time.Now().UnixNano()&0xffff)

// row is one line of the report.
type row struct {
	figure    string
	weir      string
	reference string
	ratio     string
	target    string
}

// figure is one measurement the program can run (-only selects by name).
type figure struct {
	name  string
	redis bool // needs Redis
	run   func() []row
}

func main() {
	if len(os.Args) > 1 { // the hidden re-exec modes (see plugin.go)
		switch os.Args[1] {
		case nullPluginArg:
			servePlugin()
			return
		case nullGRPCArg:
			if len(os.Args) != 3 {
				fatal(fmt.Errorf("usage: %s %s SOCKET", os.Args[0], nullGRPCArg))
			}
			serveGRPC(os.Args[2])
			return
		}
	}
	bin := flag.String("bin", "bin", "directory holding weir and the connectors")
	records := flag.Int("records", 50000, "records for the end-to-end runs")
	redisURL := flag.String("redis", envOr("WEIR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for the Redis rows")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the daemon's CPU profile of each run to FILE.<run>")
	only := flag.String("only", "", "run only these figures, comma-separated: burst, e2e, redis-burst, redis-e2e, limiter, recovery, rss, plugin, demo")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fatal(err)
	}
	defer runCleanups()

	rdb, redisErr := openRedis(*redisURL)
	figures := []figure{
		{"burst", false, func() []row { return []row{burstEmbedded(abs)} }},
		{"e2e", false, func() []row { return []row{endToEndEmbedded(abs, *records)} }},
		{"redis-burst", true, func() []row { return []row{burstRedis(abs, rdb)} }},
		{"redis-e2e", true, func() []row { return []row{endToEndRedis(abs, rdb, *records)} }},
		{"limiter", true, func() []row { return []row{limiterChecks(rdb)} }},
		{"recovery", true, func() []row { return []row{recovery(abs, rdb)} }},
		{"rss", false, func() []row { return memoryRows(abs, rdb) }},
		{"plugin", false, func() []row { return []row{pluginOverhead()} }},
		{"demo", false, func() []row { return demoRows(abs) }},
	}
	want := map[string]bool{}
	for _, name := range strings.Split(*only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	for name := range want {
		if !slices.ContainsFunc(figures, func(f figure) bool { return f.name == name }) {
			fatal(fmt.Errorf("-only: no figure %q", name))
		}
	}
	var rows []row
	for _, f := range figures {
		if len(want) > 0 && !want[f.name] {
			continue
		}
		if f.redis && rdb == nil {
			rows = append(rows, row{figure: f.name, weir: "skipped: " + redisErr.Error()})
			continue
		}
		progress("%s …", f.name)
		start := time.Now()
		rows = append(rows, f.run()...)
		progress("%s done in %v", f.name, time.Since(start).Round(100*time.Millisecond))
	}
	runCleanups()
	printTable(rows)
	fmt.Println()
	fmt.Println(machine(rdb, redisErr))
	for _, n := range notes {
		fmt.Println("note:", n)
	}
	fmt.Println("[best of N]: the figure and its reference were each measured N times in this run and the best is shown; other rows ran once.")
}

// envOr returns the environment variable name, or def when it is empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// cleanups run at exit, also after a fatal error: daemons are killed,
// workspaces and Redis keys removed.
var cleanups []func()

// atExit registers f to run at exit, before those registered earlier.
func atExit(f func()) { cleanups = append(cleanups, f) }

// runCleanups runs the registered cleanups, newest first, once.
func runCleanups() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// fatal reports err, cleans up and exits with status 1.
func fatal(err error) {
	fmt.Fprintln(os.Stderr, "weirbench:", err)
	runCleanups()
	os.Exit(1)
}

// notes are printed under the table: what dominates, side measurements.
var notes []string

// note records a line to print under the table.
func note(format string, args ...any) {
	notes = append(notes, fmt.Sprintf(format, args...))
}

// thousands formats n with thousands separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// progress writes a note to stderr; the table goes to stdout.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "weirbench: "+format+"\n", args...)
}

// printTable prints the report.
func printTable(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tWEIR\tREFERENCE (same run)\tRATIO\tTARGET")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.figure, r.weir, r.reference, r.ratio, r.target)
	}
	tw.Flush()
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	load, _ := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(load))
	return strings.Join(fields[:min(3, len(fields))], " ")
}

// startLoad is the load average when the run began.
var startLoad = loadAverage()

// machine describes where the numbers were measured.
func machine(r *redisEnv, redisErr error) string {
	s := fmt.Sprintf("machine: nproc %d, %s, load average %s at the start, %s at the end (other work on the machine shows up in the figures)",
		runtime.NumCPU(), runtime.Version(), startLoad, loadAverage())
	if r == nil {
		return s + "; Redis: " + redisErr.Error()
	}
	return s + "; " + r.describe(context.Background())
}

// best returns the best of reps measurements of f, where better is lower
// (durations) when lower is true, else higher.
func best[T int64 | float64 | time.Duration](reps int, lower bool, f func(rep int) T) T {
	var b T
	for rep := range reps {
		v := f(rep)
		if rep == 0 || (lower && v < b) || (!lower && v > b) {
			b = v
		}
	}
	return b
}
