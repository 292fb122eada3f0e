package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/daemon"
	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/host/store/bolt"
)

// planCmd is a dry run: what each record would become, writing nothing.
func planCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "plan", "[-config FILE] [-pipeline NAME] [-sample FILE | -from-source N] [-json]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	pipeline := fs.String("pipeline", "", "the pipeline to plan (default: the only one, else all)")
	sample := fs.String("sample", "", "records to plan: a JSON-lines file or a JSON array of record payloads (- for stdin)")
	fromSource := fs.Int("from-source", 0, "plan the next N records of the source (after its saved cursor), reading them without saving anything")
	asJSON := fs.Bool("json", false, "print JSON")
	var dirs stringList
	fs.Var(&dirs, "plugin-dir", "directory to search for connectors first (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*sample == "") == (*fromSource == 0) {
		return usageError("give either -sample FILE or -from-source N")
	}
	l, err := load(ctx, e, *file, dirs, nil)
	if err != nil {
		return err
	}
	names := []string{}
	if *pipeline != "" {
		if l.Config.Pipeline(*pipeline) == nil {
			return usageError("no pipeline %q in %s", *pipeline, *file)
		}
		names = append(names, *pipeline)
	} else {
		for _, p := range l.Config.Pipelines {
			names = append(names, p.Name)
		}
	}
	var payloads []json.RawMessage
	if *sample != "" {
		payloads, err = readSample(*sample)
		if err != nil {
			return usageError("%v", err)
		}
	}
	p, err := daemon.NewPlanner(ctx, l, quietLogger(e.stderr))
	if errors.Is(err, bolt.ErrInUse) {
		// A daemon holds the embedded store: it plans with its stored
		// tokens and source cursors.
		return planViaDaemon(ctx, e, l.Config, names, payloads, *fromSource, *asJSON)
	}
	if err != nil {
		return err
	}
	defer p.Close()
	samples := engine.SampleRecords(payloads)
	all := map[string][]engine.PlanResult{}
	for _, name := range names {
		recs := samples
		if *fromSource > 0 {
			recs, err = p.FromSource(ctx, name, *fromSource)
			if err != nil {
				return err
			}
		}
		res, err := p.Plan(ctx, name, recs)
		if err != nil {
			return err
		}
		all[name] = res
	}
	return showPlans(e, names, all, *asJSON)
}

// showPlans prints each pipeline's plan, or all of them as JSON.
func showPlans(e *env, names []string, all map[string][]engine.PlanResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	for _, name := range names {
		printPlan(e.stdout, name, all[name])
	}
	return nil
}

// planViaDaemon asks the daemon that holds the embedded store for the
// plans, through the admin API.
func planViaDaemon(ctx context.Context, e *env, cfg *config.Config, names []string, payloads []json.RawMessage, fromSource int, asJSON bool) error {
	fmt.Fprintln(e.stderr, "A weir daemon holds the store: it runs this plan, with its stored tokens and source cursors.")
	h := newHTTPAdmin(e, cfg.API.Listen)
	req := api.PlanRequest{Records: payloads, FromSource: fromSource}
	all := map[string][]engine.PlanResult{}
	for _, name := range names {
		var res []engine.PlanResult
		if err := h.do(ctx, "POST", "/v1/pipelines/"+url.PathEscape(name)+"/plan", req, &res); err != nil {
			return fmt.Errorf("a weir daemon holds the store; asking it for the plan of %s: %w", name, err)
		}
		all[name] = res
	}
	return showPlans(e, names, all, asJSON)
}

// readSample reads record payloads from a JSON-lines file or a JSON array.
func readSample(path string) ([]json.RawMessage, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	var raws []json.RawMessage
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("%s: not a JSON array of records: %v", path, err)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for n := 1; sc.Scan(); n++ {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if !json.Valid(line) {
				return nil, fmt.Errorf("%s:%d: not valid JSON", path, n)
			}
			raws = append(raws, append(json.RawMessage(nil), line...))
		}
	}
	return raws, nil
}

func printPlan(w io.Writer, pipeline string, res []engine.PlanResult) {
	fmt.Fprintf(w, "pipeline %s\n", pipeline)
	counts := map[string]int{}
	for _, r := range res {
		counts[r.Action]++
		key := r.Key
		if key == "" {
			key = "(no key)"
		}
		switch r.Action {
		case engine.PlanSkip:
			fmt.Fprintf(w, "  skip    %-20s %s\n", key, r.Reason)
		case engine.PlanReject:
			where := ""
			if r.Field != "" {
				where = r.Field + ": "
			}
			fmt.Fprintf(w, "  reject  %-20s %s%s\n", key, where, r.Reason)
		case engine.PlanUpdate:
			fmt.Fprintf(w, "  update  %-20s %d field(s) change\n", key, len(r.Changes))
			for _, c := range r.Changes {
				fmt.Fprintf(w, "            %s: %s → %s\n", c.Field, oneLine(string(c.From)), oneLine(string(c.To)))
			}
		default:
			fmt.Fprintf(w, "  %-7s %-20s %s\n", r.Action, key, oneLine(string(r.Record)))
		}
	}
	var parts []string
	for _, a := range []string{engine.PlanCreate, engine.PlanUpdate, engine.PlanWrite, engine.PlanSkip, engine.PlanReject} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no records"}
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(parts, ", "))
}
