package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/host/store/bolt"
)

const simplePipeline = `
connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "copy" {
  source "in" {
    poll      = "100ms"
    key_field = "id"
  }
  key = record.id
  destination "out" {
    object = "copied"
  }
}
`

func TestValidatePrintsEveryErrorWithPosition(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", simplePipeline)
	w.lock()
	if out, errOut, code := w.weir("validate", "-plugin-dir", binDir); code != 0 {
		t.Fatalf("valid config: exit %d\n%s%s", code, out, errOut)
	}

	w.write("pipeline.hcl", `
connection "jsonl" "in" {
  path   = "in"
  colour = "blue"
}

pipeline "copy" {
  source "in" {
    poll = "soon"
  }
  key = record.id
  destination "nowhere" {
    object = "copied"
  }
}
`)
	_, errOut, code := w.weir("validate", "-plugin-dir", binDir)
	if code != 2 {
		t.Fatalf("exit %d; want 2\n%s", code, errOut)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`pipeline\.hcl:4:3: .*colour`),
		regexp.MustCompile(`pipeline\.hcl:9:12: .*soon`),
		regexp.MustCompile(`pipeline\.hcl:12:\d+: .*nowhere`),
	}
	for _, re := range want {
		if !re.MatchString(errOut) {
			t.Errorf("output lacks %v:\n%s", re, errOut)
		}
	}

	w.write("pipeline.hcl", `
api {
  token = "hunter2-literal"
}
`+simplePipeline)
	_, errOut, code = w.weir("validate", "-plugin-dir", binDir)
	if code != 2 || !strings.Contains(errOut, "pipeline.hcl:3:") || !strings.Contains(errOut, `env("`) || !strings.Contains(errOut, `file("`) {
		t.Fatalf("literal secret: exit %d\n%s", code, errOut)
	}
	if strings.Contains(errOut, "hunter2-literal") {
		t.Errorf("the refused secret is echoed:\n%s", errOut)
	}
}

// TestValidateShowsWarnings checks that a valid configuration's warnings
// are shown, with their position: here limits on a jsonl connection, which
// makes no vendor requests for them to count.
func TestValidateShowsWarnings(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", strings.Replace(simplePipeline, `  path = "in"
`, `  path = "in"
  limits {
    rate = 5
    per  = "1m"
  }
`, 1))
	w.lock()
	out, errOut, code := w.weir("validate", "-plugin-dir", binDir)
	if code != 0 || !strings.Contains(out, "is valid") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if want := `pipeline.hcl:4:3: warning: Limits have no effect: Connector "jsonl" reaches no vendor`; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}

	// weir run logs it, as JSON when its log is.
	d := w.start("-log-format", "json")
	if code := d.stop(30 * time.Second); code != 0 {
		t.Fatalf("weir run: exit %d\n%s", code, d.log)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(d.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line not JSON: %q", line)
			continue
		}
		if rec["level"] == "WARN" && strings.HasPrefix(fmt.Sprint(rec["warning"]), "pipeline.hcl:4:3: warning: Limits have no effect") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning logged:\n%s", d.log)
	}
}

func TestFmtCheck(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", "pipeline \"x\" {\nkey=record.id\n  destination \"o\" {\n object=\"a\"\n}\n}\n")
	out, _, code := w.weir("fmt", "-check", "pipeline.hcl")
	if code != 1 || !strings.Contains(out, "pipeline.hcl") {
		t.Fatalf("fmt -check on a badly formatted file: exit %d, %q", code, out)
	}
	if _, errOut, code := w.weir("fmt", "pipeline.hcl"); code != 0 {
		t.Fatalf("fmt: exit %d %s", code, errOut)
	}
	if out, _, code := w.weir("fmt", "-check", "pipeline.hcl"); code != 0 || out != "" {
		t.Fatalf("fmt -check after fmt: exit %d, %q", code, out)
	}
	data, _ := os.ReadFile(w.path("pipeline.hcl"))
	if !strings.Contains(string(data), "  key = record.id") {
		t.Errorf("not formatted:\n%s", data)
	}
}

func TestChecksumMismatchIsRefused(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", simplePipeline)
	w.lock()
	lock, err := os.ReadFile(w.path("weir.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	real := regexp.MustCompile(`sha256\s*=\s*"([0-9a-f]{64})"`).FindSubmatch(lock)
	if real == nil {
		t.Fatalf("no sum in lock file:\n%s", lock)
	}
	bogus := strings.Repeat("ab", 32)
	w.write("weir.lock.hcl", strings.Replace(string(lock), string(real[1]), bogus, 1))

	for _, args := range [][]string{{"validate"}, {"run", "-listen", "127.0.0.1:0"}} {
		_, errOut, code := w.weir(append(args, "-plugin-dir", binDir)...)
		if code != 2 {
			t.Fatalf("weir %s with a wrong checksum: exit %d; want 2\n%s", args[0], code, errOut)
		}
		for _, want := range []string{"weir.lock.hcl", bogus, string(real[1]), "weir plugins lock"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("weir %s: message lacks %q:\n%s", args[0], want, errOut)
			}
		}
	}
	w.lock()
	if _, errOut, code := w.weir("validate", "-plugin-dir", binDir); code != 0 {
		t.Fatalf("after relocking: exit %d\n%s", code, errOut)
	}
}

func TestHostKillTakesConnectorsDown(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", simplePipeline)
	w.write("in/a.jsonl", `{"id":1}`+"\n")
	w.lock()
	d := w.start()
	kids := children(d.pid())
	if len(kids) != 2 {
		t.Fatalf("weir run has %d child processes; want 2 connectors", len(kids))
	}
	d.kill()
	start := time.Now()
	waitFor(t, "connectors to exit after the host's SIGKILL", 2*time.Second, func() bool {
		for _, k := range kids {
			if alive(k) {
				return false
			}
		}
		return true
	})
	t.Logf("connectors gone %v after the host was killed", time.Since(start).Round(time.Millisecond))
}

func TestSecretsNeverLogged(t *testing.T) {
	w := newWorkspace(t)
	apiToken, hookToken := "api-TOKEN-4c0f9e21", "hook-TOKEN-77ad013b"
	w.setenv("WEIR_API_TOKEN", apiToken)
	w.setenv("HOOK_TOKEN", hookToken)
	w.write("pipeline.hcl", `
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "hooked" {
  source "in" {
    key_field = "id"
  }
  webhook {
    auth   = "token"
    secret = env("HOOK_TOKEN")
  }
  key = record.id
  map {
    echoed = "${record.id}-${record.note}"
  }
  destination "out" {
    object = "hooked"
  }
}
`)
	w.lock()
	d := w.start("-log-level", "debug")
	post := func(token, body string) int {
		return postHook(t, d.addr, "hooked", token, body)
	}
	// A record that carries the secret in its payload and one that fails its
	// map are logged about; neither may reveal a secret.
	if code := post(hookToken, `{"id":"1","note":"`+apiToken+`"}`); code != 200 {
		t.Fatalf("hook: %d", code)
	}
	post(hookToken, `{"id":"2"}`)
	post("wrong-"+hookToken, `{"id":"3"}`)
	w.weir("status", "-addr", d.addr)
	waitFor(t, "delivery", 10*time.Second, func() bool { return len(readLines(t, w.path("out/hooked.jsonl"))) == 1 })
	if code := d.stop(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	logs := d.log.String()
	for _, s := range []string{apiToken, hookToken} {
		if strings.Contains(logs, s) {
			t.Errorf("secret %q appears in the log:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, "level=") {
		t.Fatalf("no log captured: %q", logs)
	}
}

func TestMetricsAndOneHostPerDataDirectory(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", simplePipeline)
	w.write("in/a.jsonl", `{"id":1}`+"\n"+`{"id":2}`+"\n")
	w.lock()
	d := w.start()
	waitFor(t, "delivery acknowledged", 10*time.Second, func() bool {
		v, _ := d.metricOK(`weir_records_delivered_total{pipeline="copy"}`)
		return v == 2
	})
	for series, want := range map[string]float64{
		`weir_records_in_total{pipeline="copy"}`:             2,
		`weir_records_delivered_total{pipeline="copy"}`:      2,
		`weir_queue_depth{pipeline="copy",state="ready"}`:    0,
		`weir_write_duration_seconds_count{pipeline="copy"}`: -1,
		`weir_connector_restarts_total{connection="in"}`:     0,
		`weir_limiter_waits_total{connection="out"}`:         0,
		`weir_records_dead_lettered_total{pipeline="copy"}`:  0,
		`weir_delivery_yield_seconds_total{pipeline="copy"}`: 0,
	} {
		got, ok := d.metricOK(series)
		if !ok {
			t.Errorf("metric %s missing", series)
			continue
		}
		if want >= 0 && got != want {
			t.Errorf("%s = %v; want %v", series, got, want)
		}
	}

	start := time.Now()
	_, errOut, code := w.weir("run", "-listen", freeAddr(t), "-plugin-dir", binDir)
	if code != 1 || !strings.Contains(errOut, "in use by another weir") {
		t.Fatalf("second weir on the same data directory: exit %d\n%s", code, errOut)
	}
	t.Logf("second host refused in %v", time.Since(start).Round(time.Millisecond))
	d.stop(10 * time.Second)
}

func TestPlanWritesNothing(t *testing.T) {
	w := newWorkspace(t)
	w.write("pipeline.hcl", `
connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "orders" {
  source "in" {
    key_field = "id"
  }
  key  = record.id
  when = record.total >= 100
  map {
    id    = record.id
    total = record.total
    upper = upper(record.name)
  }
  destination "out" {
    object = "orders"
  }
}
`)
	w.write("in/a.jsonl", `{"id":"a","total":150,"name":"x"}
{"id":"b","total":50,"name":"y"}
{"id":"c","total":500}
{"id":"d","total":700,"name":"new"}
`)
	w.write("out/orders.jsonl", `{"key":"d","version":1,"record":{"id":"d","total":600,"upper":"OLD"}}`+"\n")
	w.lock()
	for range 2 { // twice: the source cursor must not move
		out, errOut, code := w.weir("plan", "-plugin-dir", binDir, "-from-source", "10")
		if code != 0 {
			t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"create  a", "skip    b", "when record.total >= 100 is false",
			"reject  c", "upper: pipeline.hcl:", "update  d", "total: 600 → 700", `upper: "OLD" → "NEW"`,
			"1 create, 1 update, 1 skip, 1 reject",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("plan output lacks %q:\n%s", want, out)
			}
		}
	}
	if lines := readLines(t, w.path("out/orders.jsonl")); len(lines) != 1 {
		t.Errorf("plan wrote to the destination: %d lines", len(lines))
	}
	st, err := bolt.Open(w.path(".weir"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if stats, _ := st.Stats(context.Background(), "orders"); stats.Accepted != 0 {
		t.Errorf("plan enqueued %d records", stats.Accepted)
	}
	if _, err := st.Checkpoint(context.Background(), "orders", "in"); err == nil {
		t.Error("plan saved a source cursor")
	}
}

// TestPlanThroughTheDaemon runs weir plan while a daemon holds the
// embedded store: the daemon plans, reading the source after its own saved
// cursor, and nothing is written or moved.
func TestPlanThroughTheDaemon(t *testing.T) {
	w := newWorkspace(t)
	w.setenv("WEIR_API_TOKEN", "plan-admin-token")
	addr := freeAddr(t)
	w.write("pipeline.hcl", fmt.Sprintf(`
api {
  listen = %q
  token  = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "orders" {
  source "in" {
    key_field = "id"
    poll      = "1h"
  }
  key  = record.id
  when = record.total >= 100
  destination "out" {
    object = "orders"
  }
}
`, addr))
	w.write("in/a.jsonl", `{"id":"a","total":150}`+"\n"+`{"id":"b","total":250}`+"\n")
	w.lock()
	d := w.startAt(addr)
	waitFor(t, "the first records delivered", 10*time.Second, func() bool {
		v, _ := d.metricOK(`weir_records_delivered_total{pipeline="orders"}`)
		return v == 2
	})
	// New lines the daemon will not poll for an hour.
	f, err := os.OpenFile(w.path("in/a.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"c","total":50}` + "\n" + `{"id":"d","total":700}` + "\n")
	f.Close()

	out, errOut, code := w.weir("plan", "-plugin-dir", binDir, "-from-source", "10")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "daemon holds the store") {
		t.Errorf("plan did not say the daemon ran it:\n%s", errOut)
	}
	for _, want := range []string{"skip    c", "create  d", "1 create, 1 skip"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q (records after the daemon's cursor only):\n%s", want, out)
		}
	}
	if strings.Contains(out, "create  a") {
		t.Errorf("plan re-read records before the saved cursor:\n%s", out)
	}

	out, errOut, code = w.weir("plan", "-plugin-dir", binDir, "-sample", "in/a.jsonl", "-json")
	if code != 0 || !strings.Contains(out, `"action": "skip"`) || strings.Contains(out, "daemon holds") {
		t.Fatalf("plan -sample -json: exit %d\n%s%s", code, out, errOut)
	}

	w.setenv("WEIR_API_TOKEN", "wrong")
	if _, errOut, code := w.weir("plan", "-plugin-dir", binDir, "-from-source", "1"); code == 0 || !strings.Contains(errOut, "401") && !strings.Contains(strings.ToLower(errOut), "token") {
		t.Errorf("plan with a wrong API token: exit %d\n%s", code, errOut)
	}
	if lines := readLines(t, w.path("out/orders.jsonl")); len(lines) != 2 {
		t.Errorf("the destination holds %d lines; want the 2 delivered before the plans", len(lines))
	}
	d.stop(10 * time.Second)
	st, err := bolt.Open(w.path(".weir"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if stats, _ := st.Stats(context.Background(), "orders"); stats.Accepted != 2 {
		t.Errorf("the store accepted %d records; want 2 (plans enqueue nothing)", stats.Accepted)
	}
}
