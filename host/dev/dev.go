// Package dev is `weir dev`: the vendor sandboxes in-process, demo data,
// the default pipeline running against them on the embedded store, a Black
// Friday burst of orders through the Salesforce sandbox, live progress,
// and a summary that proves the promise from the ERP sandbox's own records
// and request log.
package dev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/daemon"
	nssandbox "github.com/weirhq/weir/plugins/netsuite/sandbox"
	sfsandbox "github.com/weirhq/weir/plugins/salesforce/sandbox"
)

// Options configure a dev run.
type Options struct {
	// ConfigFile is the pipeline file (pipeline.hcl).
	ConfigFile string
	PluginDirs []string
	// Orders is the size of the Black Friday burst.
	Orders int
	// Per scales the ERP's rate window for the demo (99 per Per).
	Per time.Duration
	// UntilDrained ends the run, with a summary, once every order is
	// handled.
	UntilDrained bool
	// DataDir holds the demo's store and keys; emptied at start.
	DataDir string
	// Redis, when set, runs on this Redis URL instead of the embedded store.
	Redis string
	// Listen is the API address ("" for the configuration's).
	Listen string
	// Terminal redraws the progress in place; else it prints log lines.
	Terminal bool
	Out      io.Writer
	Logger   *slog.Logger
	// Timeout bounds an UntilDrained run.
	Timeout time.Duration
}

// erpRate is the ERP's requests per window in the demo.
const erpRate = 99

// Summary is what a drained run proved.
type Summary struct {
	Orders    int `json:"orders"`
	Eligible  int `json:"eligible"`
	Delivered int `json:"delivered"`
	// StatusBack counts delivered orders whose ERP number and status came
	// back onto the CRM order.
	StatusBack   int           `json:"status_back"`
	Duplicates   int           `json:"duplicates"`
	Skipped      int           `json:"skipped"`
	Bad          int           `json:"bad"`
	DeadLettered int           `json:"dead_lettered"`
	Missing      []string      `json:"missing,omitempty"`
	Unexpected   []string      `json:"unexpected,omitempty"`
	MostInWindow int           `json:"most_in_window"`
	Limit        int           `json:"limit"`
	Window       time.Duration `json:"window"`
	AcceptTime   time.Duration `json:"accept_time"`
	// Utilisation is the mean share of the limit used over the full
	// windows in which orders waited for the ERP; UseWindows counts those
	// windows (none when orders never waited a whole window).
	Utilisation    float64       `json:"utilisation"`
	UseWindows     int           `json:"use_windows"`
	DrainTime      time.Duration `json:"drain_time"`
	ERPRequests    int           `json:"erp_requests"`
	DeadLetterWhys []string      `json:"dead_letter_reasons,omitempty"`
}

// OK reports whether the summary proves the promise.
func (s Summary) OK() bool {
	return len(s.Missing) == 0 && len(s.Unexpected) == 0 && s.Duplicates == 0 &&
		s.DeadLettered == s.Bad && s.MostInWindow <= s.Limit && s.Delivered == s.Eligible && s.StatusBack == s.Delivered
}

// Run runs the demo until ctx ends or, with UntilDrained, every order is
// handled; it returns the summary of a drained run.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Orders <= 0 {
		o.Orders = 5000
	}
	if o.Per <= 0 {
		o.Per = 4 * time.Second
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(filepath.Dir(o.ConfigFile), ".weir", "dev")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if err := os.RemoveAll(o.DataDir); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return Summary{}, err
	}

	// Without state and country picklists, as many orgs run: countries are
	// free text, typed every way people type them.
	sf := sfsandbox.New(sfsandbox.Options{NoPicklists: true})
	sfURL, err := sf.Start("127.0.0.1:0")
	if err != nil {
		return Summary{}, fmt.Errorf("salesforce sandbox: %w", err)
	}
	defer sf.Close()
	ns := nssandbox.New(nssandbox.Options{})
	nsURL, closeNS, err := serve(ns)
	if err != nil {
		return Summary{}, fmt.Errorf("netsuite sandbox: %w", err)
	}
	defer closeNS()
	ns.SeedDemo()
	refs, err := seedCRM(sf)
	if err != nil {
		return Summary{}, err
	}
	fmt.Fprintf(o.Out, "sandboxes: salesforce %s, netsuite %s\n", sfURL, nsURL)

	if err := setEnv(o, sfURL, nsURL, ns.DemoCredentials()); err != nil {
		return Summary{}, err
	}
	l, err := daemon.Load(ctx, daemon.LoadOptions{ConfigFile: o.ConfigFile, PluginDirs: o.PluginDirs, Logger: o.Logger})
	if err != nil {
		return Summary{}, err
	}
	l.LogWarnings(o.Logger)
	cfg := l.Config
	cfg.Store.Dir = filepath.Join(o.DataDir, "store")
	if o.Redis != "" {
		// A prefix of its own: nothing of an earlier run (cursors, delivered
		// versions, limiter state) is seen again, and the run's keys are
		// deleted at the end.
		prefix := "weir-dev-" + randomHex(4)
		cfg.Store.Redis = &config.Redis{URL: o.Redis, Prefix: prefix}
		defer dropKeys(o.Redis, prefix)
	}
	for _, c := range cfg.Connections {
		if c.Connector == "netsuite" && c.Limits.Rate > 0 {
			c.Limits.Per = o.Per // the demo's scaled minute
		}
	}
	d, err := daemon.New(ctx, l, daemon.Options{Logger: o.Logger, Listen: o.Listen})
	if err != nil {
		return Summary{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	tokenFile := filepath.Join(o.DataDir, "api-token")
	if err := os.WriteFile(tokenFile, []byte(os.Getenv("WEIR_API_TOKEN")), 0o600); err != nil {
		stop()
		<-done
		return Summary{}, err
	}
	fmt.Fprintf(o.Out, "weir: API at http://%s (export WEIR_API_TOKEN=$(cat %s)); ERP limited to %d requests per %s\n", d.Addr(), tokenFile, erpRate, o.Per)

	start := time.Now()
	burst, err := burstOrders(sf, refs, o.Orders)
	if err != nil {
		stop()
		<-done
		return Summary{}, err
	}
	fmt.Fprintf(o.Out, "black friday: %d orders created in Salesforce in %v\n", o.Orders, time.Since(start).Round(time.Millisecond))

	// Accept and drain times count from the moment the orders exist.
	p := &progress{o: o, d: d, ns: ns, start: time.Now()}
	deadline := time.After(o.Timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var sum Summary
	for {
		select {
		case err := <-done:
			return Summary{}, err
		case <-ctx.Done():
			stop()
			<-done
			return Summary{}, nil
		case <-deadline:
			stop()
			<-done
			return Summary{}, fmt.Errorf("not drained after %v", o.Timeout)
		case <-tick.C:
		}
		st, err := d.Status(ctx)
		if err != nil {
			continue
		}
		p.noteAccepted(st, len(burst.orders))
		p.print(st)
		if !o.UntilDrained || !p.drained(st, len(burst.orders), burst.eligible) {
			continue
		}
		sum, err = verify(ctx, d, sf, ns, o, burst, p)
		stop()
		<-done
		if err != nil {
			return sum, err
		}
		printSummary(o.Out, sum)
		if !sum.OK() {
			return sum, errors.New("the summary does not prove the promise")
		}
		return sum, nil
	}
}

// serve starts h on a free loopback port.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}

// setEnv gives the default pipeline its environment for the sandboxes,
// keeping whatever the user set.
func setEnv(o Options, sfURL, nsURL string, c nssandbox.Credentials) error {
	keyFile := filepath.Join(o.DataDir, "netsuite-key.pem")
	if err := os.WriteFile(keyFile, []byte(c.PrivateKeyPEM), 0o600); err != nil {
		return err
	}
	vars := map[string]string{
		"SF_LOGIN_URL":     sfURL,
		"SF_CLIENT_ID":     sfsandbox.DefaultClientID,
		"SF_CLIENT_SECRET": sfsandbox.DefaultClientSecret,
		"NS_ACCOUNT_ID":    c.AccountID,
		"NS_BASE_URL":      nsURL,
		"NS_TOKEN_URL":     nsURL + nssandbox.TokenPath,
		"NS_CLIENT_ID":     c.ClientID,
		"NS_CERT_ID":       c.CertificateID,
		"NS_KEY_FILE":      keyFile,
		"WEIR_API_TOKEN":   randomHex(16),
		"WEIR_SECRET_KEY":  randomHex(32),
	}
	for k, v := range vars {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The CRM's demo catalogue: the ERP sandbox's items, and one product whose
// unit the pipeline's units table does not know.
var products = []struct {
	code, unit, price string
}{
	{"WID-100", "Each", "49.90"},
	{"WID-PK12", "Pack of 12", "499.00"},
	{"GAD-200", "Each", "1299.00"},
	{"CAB-10M", "Each", "19.99"},
	{"SRV-RACK", "Each", "8999.00"},
	{"BDL-9", "Bundle", "75.00"}, // bad: no such unit in crm_to_erp
}

// countries are written the ways people type them; "Atlantis" is bad.
var countries = []string{"USA", "United States", "U.S.", "Deutschland", "UK", "France", "Japan", "Canada", "Netherlands", "United States of America"}

// seedCRM seeds the Salesforce sandbox with the catalogue and the ERP's
// customers (ACC-0001 to ACC-0040), plus one customer in no real country.
func seedCRM(sf *sfsandbox.Server) (map[string]string, error) {
	var recs []sfsandbox.SeedRecord
	for i, p := range products {
		ref := fmt.Sprintf("p%d", i)
		recs = append(recs,
			sfsandbox.SeedRecord{Type: "Product2", Ref: ref, Fields: map[string]any{"Name": p.code, "ProductCode": p.code, "QuantityUnitOfMeasure": p.unit, "IsActive": true}},
			sfsandbox.SeedRecord{Type: "PricebookEntry", Ref: "pbe" + ref, Fields: map[string]any{"Pricebook2Id": "@StandardPricebook", "Product2Id": "@" + ref, "UnitPrice": json.Number(p.price), "IsActive": true}},
		)
	}
	for i := 1; i <= nssandbox.DemoCustomers+1; i++ {
		country := countries[i%len(countries)]
		if i == nssandbox.DemoCustomers+1 {
			country = "Atlantis"
		}
		recs = append(recs, sfsandbox.SeedRecord{Type: "Account", Ref: fmt.Sprintf("a%d", i), Fields: map[string]any{
			"Name": fmt.Sprintf("Customer %d", i), "AccountNumber": fmt.Sprintf("ACC-%04d", i), "ShippingCountry": country, "ShippingCity": "Springfield",
		}})
	}
	ids, err := sf.Seed(recs...)
	if err != nil {
		return nil, fmt.Errorf("salesforce sandbox: seed: %w", err)
	}
	refs := map[string]string{}
	for i, r := range recs {
		refs["@"+r.Ref] = ids[i]
	}
	return refs, nil
}

// burst is what the Black Friday burst created.
type burst struct {
	// eligible maps the OrderNumbers of good orders of $5,000 or more.
	eligible int
	small    int
	bad      int
	orders   map[string]string // Order Id → kind: "good", "small", "bad"
}

// burstOrders creates n activated orders in the Salesforce sandbox: most
// good, some under $5,000, about 2% with a bad unit or country.
func burstOrders(sf *sfsandbox.Server, refs map[string]string, n int) (burst, error) {
	rng := mrand.New(mrand.NewPCG(27, 11))
	day := time.Now().UTC().Format("2006-01-02")
	b := burst{orders: map[string]string{}}
	var recs []sfsandbox.SeedRecord
	var orderAt []int // index in recs of each order's creation
	kinds := make([]string, n)
	for i := range n {
		ref := fmt.Sprintf("o%d", i)
		account := 1 + rng.IntN(nssandbox.DemoCustomers)
		kind := "good"
		lines := 1 + rng.IntN(3)
		var items []int
		for range lines {
			items = append(items, rng.IntN(5))
		}
		switch r := rng.IntN(100); {
		case r < 1:
			account, kind = nssandbox.DemoCustomers+1, "bad" // Atlantis
		case r < 2:
			items, kind = []int{4, 5}, "bad" // a rack and a Bundle
		case r < 35:
			kind = "small"
		}
		orderAt = append(orderAt, len(recs))
		recs = append(recs, sfsandbox.SeedRecord{Type: "Order", Ref: ref, Fields: map[string]any{
			"AccountId": refs[fmt.Sprintf("@a%d", account)], "Pricebook2Id": "@StandardPricebook", "EffectiveDate": day, "Status": "Draft",
		}})
		for j, it := range items {
			qty := 1 + rng.IntN(3)
			if kind != "small" && j == 0 {
				it, qty = 4, 1+rng.IntN(2) // a server rack: $8,999 or more
			}
			if kind == "small" {
				it, qty = 3, 1+rng.IntN(20) // cables: well under $5,000
			}
			recs = append(recs, sfsandbox.SeedRecord{Type: "OrderItem", Fields: map[string]any{
				"OrderId": "@" + ref, "PricebookEntryId": refs[fmt.Sprintf("@pbep%d", it)], "Quantity": json.Number(fmt.Sprint(qty)), "UnitPrice": json.Number(products[it].price),
			}})
		}
		recs = append(recs, sfsandbox.SeedRecord{Type: "Order", ID: "@" + ref, Fields: map[string]any{"Status": "Activated"}})
		kinds[i] = kind
	}
	ids, err := sf.Seed(recs...)
	if err != nil {
		return b, fmt.Errorf("salesforce sandbox: burst: %w", err)
	}
	totals := map[string]*big.Float{}
	orders, err := sf.Records("Order")
	if err != nil {
		return b, err
	}
	for _, raw := range orders {
		var o struct {
			Id          string
			TotalAmount json.Number
		}
		json.Unmarshal(raw, &o)
		totals[o.Id], _ = new(big.Float).SetString(string(o.TotalAmount))
	}
	for i, pos := range orderAt {
		id, kind := ids[pos], kinds[i]
		if t := totals[id]; kind != "bad" && (t == nil || t.Cmp(big.NewFloat(5000)) < 0) {
			kind = "small"
		}
		b.orders[id] = kind
		switch kind {
		case "good":
			b.eligible++
		case "small":
			b.small++
		case "bad":
			b.bad++
		}
	}
	return b, nil
}

// progress prints the demo's live figures.
type progress struct {
	// accepted is how long the burst took to be durably accepted (read
	// from the CRM and stored), once it was.
	accepted time.Duration
	o        Options
	d        *daemon.Daemon
	ns       *nssandbox.Server
	start    time.Time
	lines    int
	calm     int
	// waitedFrom and waitedTo are the first and last time the status
	// showed orders waiting for the ERP.
	waitedFrom, waitedTo time.Time
}

func (p *progress) print(st api.Status) {
	var b strings.Builder
	for _, pl := range st.Pipelines {
		fmt.Fprintf(&b, "%-18s accepted %6d  delivered %6d  waiting %6d  in flight %4d  retrying %4d  dead letters %3d\n",
			pl.Name, pl.Accepted, pl.Delivered, pl.Ready+pl.Pending, pl.InFlight, pl.Retrying, pl.DeadLetters)
	}
	reqs := p.ns.Requests()
	cut := time.Now().Add(-p.o.Per)
	inWindow := 0
	for _, r := range reqs {
		if r.Kind != "token" && r.Time.After(cut) {
			inWindow++
		}
	}
	fmt.Fprintf(&b, "ERP requests in the last %s: %d of %d allowed; %d in all; %s elapsed\n", p.o.Per, inWindow, erpRate, len(reqs), time.Since(p.start).Round(time.Second))
	out := b.String()
	if p.o.Terminal {
		if p.lines > 0 {
			fmt.Fprintf(p.o.Out, "\033[%dA\033[J", p.lines)
		}
		p.lines = strings.Count(out, "\n")
		fmt.Fprint(p.o.Out, out)
		return
	}
	fmt.Fprint(p.o.Out, time.Now().Format("15:04:05 ")+strings.ReplaceAll(strings.TrimSuffix(out, "\n"), "\n", "\n         ")+"\n")
}

// noteAccepted records when the forward pipeline had accepted the burst,
// and the span in which it had orders waiting.
func (p *progress) noteAccepted(st api.Status, orders int) {
	for _, pl := range st.Pipelines {
		if pl.Name != "orders_to_erp" {
			continue
		}
		if p.accepted == 0 && pl.Accepted >= int64(orders) {
			p.accepted = time.Since(p.start)
		}
		if pl.Ready+pl.Pending > 0 {
			now := time.Now()
			if p.waitedFrom.IsZero() {
				p.waitedFrom = now
			}
			p.waitedTo = now
		}
	}
}

// drained reports whether the forward pipeline has handled every order,
// the way back has carried the status of every ERP order, and both have
// been idle for a few seconds.
func (p *progress) drained(st api.Status, orders, eligible int) bool {
	idle := true
	var handled, back int64
	for _, pl := range st.Pipelines {
		if pl.Waiting+pl.InFlight > 0 {
			idle = false
		}
		switch pl.Name {
		case "orders_to_erp":
			handled = pl.Delivered + pl.DeadLetters
		case "erp_status_to_crm":
			back = pl.Delivered
		}
	}
	if !idle || handled < int64(orders) || back < int64(eligible) {
		p.calm = 0
		return false
	}
	p.calm++
	return p.calm >= 3
}

// verify proves the promise from the ERP sandbox's records and request log.
func verify(ctx context.Context, d *daemon.Daemon, sf *sfsandbox.Server, ns *nssandbox.Server, o Options, b burst, p *progress) (Summary, error) {
	sum := Summary{Orders: len(b.orders), Eligible: b.eligible, Skipped: b.small, Bad: b.bad, Limit: erpRate, Window: o.Per,
		AcceptTime: p.accepted, DrainTime: time.Since(p.start)}
	// CRM order numbers by Id.
	number, erpNumber := map[string]string{}, map[string]string{}
	crm, err := sf.Records("Order")
	if err != nil {
		return sum, err
	}
	for _, raw := range crm {
		var r struct {
			Id, OrderNumber  string
			ERPOrderNumber__ string `json:"ERP_Order_Number__c"`
		}
		json.Unmarshal(raw, &r)
		number[r.Id], erpNumber[r.Id] = r.OrderNumber, r.ERPOrderNumber__
	}
	seen := map[string]int{}
	for _, raw := range ns.Records("salesOrder") {
		var r struct {
			ExternalID string `json:"externalId"`
		}
		json.Unmarshal(raw, &r)
		seen[r.ExternalID]++
	}
	for id, kind := range b.orders {
		ext := "SF-" + number[id]
		n := seen[ext]
		if n > 1 {
			sum.Duplicates++
		}
		switch {
		case kind == "good" && n == 0:
			sum.Missing = append(sum.Missing, ext)
		case kind == "good":
			sum.Delivered++
			if erpNumber[id] != "" {
				sum.StatusBack++
			}
		case n > 0:
			sum.Unexpected = append(sum.Unexpected, ext+" ("+kind+")")
		}
	}
	sort.Strings(sum.Missing)
	sort.Strings(sum.Unexpected)
	var times []time.Time
	for _, r := range ns.Requests() {
		if r.Kind != "token" {
			times = append(times, r.Time)
		}
	}
	sum.ERPRequests = len(times)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	lo := 0
	for hi := range times {
		for !times[lo].After(times[hi].Add(-o.Per)) {
			lo++
		}
		sum.MostInWindow = max(sum.MostInWindow, hi-lo+1)
	}
	// Mean use over the windows that start at a request and end before the
	// last one, while orders waited for the ERP (as the status showed them,
	// sampled each second).
	windows, total, hi := 0, 0, 0
	for lo := range times {
		end := times[lo].Add(o.Per)
		if end.After(times[len(times)-1]) || end.After(p.waitedTo) {
			break
		}
		if times[lo].Before(p.waitedFrom) {
			continue
		}
		for hi < len(times) && times[hi].Before(end) {
			hi++
		}
		total += hi - lo
		windows++
	}
	if windows > 0 {
		sum.Utilisation = float64(total) / float64(windows*erpRate)
	}
	sum.UseWindows = windows
	st, err := d.Status(ctx)
	if err != nil {
		return sum, err
	}
	for _, pl := range st.Pipelines {
		if pl.Name == "orders_to_erp" {
			sum.DeadLettered = int(pl.DeadLetters)
		}
	}
	dls, err := d.Store().DeadLetters(ctx, "orders_to_erp", "", 1000)
	if err == nil {
		whys := map[string]bool{}
		for _, dl := range dls {
			why := dl.Reason
			if i := strings.Index(why, ": "); i > 0 && strings.Contains(why[:i], ".hcl:") {
				why = why[i+2:]
			}
			whys[dl.Field+": "+why] = true
		}
		for w := range whys {
			sum.DeadLetterWhys = append(sum.DeadLetterWhys, w)
		}
		sort.Strings(sum.DeadLetterWhys)
	}
	return sum, nil
}

func printSummary(w io.Writer, s Summary) {
	mark := func(ok bool) string {
		if ok {
			return "ok  "
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "\nsummary (from the ERP sandbox's records and request log)\n")
	fmt.Fprintf(w, "  %s %d orders of $5,000 or more delivered exactly once (%d expected)\n", mark(s.Delivered == s.Eligible && len(s.Missing) == 0), s.Delivered, s.Eligible)
	fmt.Fprintf(w, "  %s no duplicates in the ERP (%d)\n", mark(s.Duplicates == 0), s.Duplicates)
	fmt.Fprintf(w, "  %s ERP number and status back on %d of %d CRM orders\n", mark(s.StatusBack == s.Delivered), s.StatusBack, s.Delivered)
	fmt.Fprintf(w, "  %s %d orders under $5,000 skipped, none in the ERP (%d there)\n", mark(len(s.Unexpected) == 0), s.Skipped, len(s.Unexpected))
	fmt.Fprintf(w, "  %s %d orders with a bad unit or country dead-lettered (%d expected)\n", mark(s.DeadLettered == s.Bad), s.DeadLettered, s.Bad)
	for _, why := range s.DeadLetterWhys {
		fmt.Fprintf(w, "         %s\n", why)
	}
	fmt.Fprintf(w, "  %s at most %d ERP requests in any %s (limit %d; %d requests in all)\n", mark(s.MostInWindow <= s.Limit), s.MostInWindow, s.Window, s.Limit, s.ERPRequests)
	use := fmt.Sprintf("ERP used at %.0f%% of its limit on average while orders waited", 100*s.Utilisation)
	if s.UseWindows == 0 {
		use = fmt.Sprintf("orders never waited a whole %s for the ERP, so its use is not measured", s.Window)
	}
	fmt.Fprintf(w, "  burst of %d accepted in %s, drained in %s; %s\n",
		s.Orders, s.AcceptTime.Round(100*time.Millisecond), s.DrainTime.Round(time.Second), use)
	for i, m := range s.Missing {
		if i == 5 {
			fmt.Fprintf(w, "  … %d more missing\n", len(s.Missing)-5)
			break
		}
		fmt.Fprintf(w, "  missing %s\n", m)
	}
}

// dropKeys deletes a dev run's keys from Redis.
func dropKeys(url, prefix string) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		c.Del(ctx, keys[:n]...)
		keys = keys[n:]
	}
}
