package config

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/weirhq/weir/sdk"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// fakeDescriber describes a few connectors like the shipped ones.
var fakeDescriber = DescriberFunc(func(_ context.Context, name string) (sdk.Description, error) {
	switch name {
	case "salesforce":
		return sdk.Description{
			Name:         "salesforce",
			Capabilities: []sdk.Capability{sdk.CapSource, sdk.CapWebhook, sdk.CapDestination},
			Config: []sdk.Attribute{
				{Name: "instance_url", Type: sdk.TypeString, Required: true},
				{Name: "api_version", Type: sdk.TypeString, Default: []byte(`"v61.0"`)},
			},
			SourceConfig: []sdk.Attribute{
				{Name: "object", Type: sdk.TypeString, Required: true},
				{Name: "where", Type: sdk.TypeString},
				{Name: "fields", Type: sdk.TypeStringList, Default: []byte(`["Id"]`)},
			},
			Objects: []sdk.Object{{Name: "Order", Readable: true}, {Name: "Account", Readable: true, Writable: true}},
			OAuth: &sdk.OAuth{
				AuthorizationURL: "https://login.salesforce.com/services/oauth2/authorize",
				TokenURL:         "https://login.salesforce.com/services/oauth2/token",
				Flows:            []string{FlowAuthorizationCode, FlowJWTBearer},
			},
		}, nil
	case "netsuite":
		return sdk.Description{
			Name:         "netsuite",
			Capabilities: []sdk.Capability{sdk.CapDestination, sdk.CapLookup},
			Config: []sdk.Attribute{
				{Name: "account_id", Type: sdk.TypeString, Required: true},
				{Name: "credit_limit", Type: sdk.TypeNumber},
				{Name: "sandbox", Type: sdk.TypeBool, Default: []byte(`false`)},
				{Name: "api_key", Type: sdk.TypeString, Sensitive: true},
				{Name: "tags", Type: sdk.TypeStringMap},
				{Name: "extra", Type: sdk.TypeDynamic},
				{Name: "ratio", Type: sdk.TypeNumber, Default: []byte(`0.10000000000000000001`)},
			},
			Objects: []sdk.Object{
				{Name: "salesOrder", Writable: true, Operations: []string{"upsert", "delete"}},
				{Name: "stock", Lookup: true},
			},
		}, nil
	case "jsonl":
		return sdk.Description{
			Name:         "jsonl",
			Local:        true,
			Capabilities: []sdk.Capability{sdk.CapSource, sdk.CapDestination},
			Config:       []sdk.Attribute{{Name: "dir", Type: sdk.TypeString, Required: true}},
			SourceConfig: []sdk.Attribute{{Name: "file", Type: sdk.TypeString}},
			Objects:      []sdk.Object{{Name: "records", Readable: true, Writable: true}},
		}, nil
	}
	return sdk.Description{}, errors.New("weir-connector-" + name + " not found")
})

// writeFiles writes files into a temporary directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load writes src as main.hcl (plus extra files), loads it with the fake
// describer and returns the config and its diagnostics as text, with file
// names relative to the directory.
func load(t *testing.T, src string, extra map[string]string) (*Config, string) {
	t.Helper()
	files := map[string]string{"main.hcl": src}
	for k, v := range extra {
		files[k] = v
	}
	dir := writeFiles(t, files)
	cfg, diags := Load(context.Background(), fakeDescriber, filepath.Join(dir, "main.hcl"))
	if cfg == nil {
		t.Fatal("nil config")
	}
	var b strings.Builder
	if err := FormatDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	return cfg, strings.ReplaceAll(b.String(), dir+string(filepath.Separator), "")
}

const fullConfig = `
store {
  dir = "data"
  redis { url = env("WEIR_TEST_REDIS_URL") }
}

api {
  listen   = "127.0.0.1:7421"
  token    = env("WEIR_TEST_API_TOKEN")
  max_body = "2MiB"
}

connection "salesforce" "crm" {
  instance_url = "https://acme.my.salesforce.com"
  oauth2 {
    flow          = "authorization_code"
    client_id     = env("WEIR_TEST_CLIENT_ID")
    client_secret = env("WEIR_TEST_CLIENT_SECRET")
    scopes        = ["api", "refresh_token"]
    session_lifetime = "2h"
  }
  limits {
    per_day     = 100000
    concurrency = 20
  }
}

connection "netsuite" "erp" {
  account_id   = "1234567"
  credit_limit = 12345678901234567.89
  api_key      = trimspace(file("secrets/api_key"))
  tags         = { region = "eu", tier = 1 }
  extra        = { amounts = [0.1, 99999999999999999999.99], nested = { ok = true } }
  oauth2 {
    flow           = "client_credentials"
    client_id      = "ns-client"
    private_key    = file(env("WEIR_TEST_KEY_FILE"))
    certificate_id = "cert-1"
  }
  limits {
    rate              = 99
    per               = "1m"
    concurrency       = 5
    interactive_share = 0.2
  }
}

units "crm_to_erp" {
  entries = {
    "Pack of 12" = { unit = "Case", factor = 1 }
    "Half"       = { unit = "Unit", factor = 0.5 }
    "Each"       = { unit = "Unit" }
  }
}

pipeline "orders_to_erp" {
  source "crm" {
    object     = "Order"
    poll       = "45s"
    batch_size = 200
    where      = "Status = 'Activated'"
  }
  key  = record.OrderNumber
  when = record.TotalAmount >= 5000

  lookup "stock" {
    connection = "erp"
    query      = { items = [for l in record.OrderItems : l.Product2.ProductCode] }
  }
  lookup "stock2" {
    connection = "erp"
    object     = "stock"
    query      = { previous = lookup.stock.total }
  }

  map {
    externalId = "SF-${record.OrderNumber}"
    entity     = { externalId = upper(record.Account.AccountNumber) }
    available  = lookup.stock.available
    count      = length([for l in record.OrderItems : l if l.Quantity > 0])
  }

  destination "erp" {
    object     = "salesOrder"
    operation  = "upsert"
    batch_size = 25
  }
  retry {
    attempts  = 5
    backoff   = "constant"
    max_delay = "10m"
  }
  workers                = 8
  forget_delivered_after = "2160h"
}

pipeline "hooks" {
  source "crm" { object = "Order" }
  webhook {
    auth   = "hmac"
    secret = env("WEIR_TEST_HOOK_SECRET")
  }
  key = record.Id
  destination "erp" { object = "salesOrder" }
}
`

func setFullEnv(t *testing.T, dir string) {
	t.Setenv("WEIR_TEST_REDIS_URL", "redis://:pw@localhost:6379/0")
	t.Setenv("WEIR_TEST_API_TOKEN", "api-token")
	t.Setenv("WEIR_TEST_CLIENT_ID", "sf-client")
	t.Setenv("WEIR_TEST_CLIENT_SECRET", "sf-secret")
	t.Setenv("WEIR_TEST_HOOK_SECRET", "hook-secret")
	t.Setenv("WEIR_TEST_KEY_FILE", filepath.Join(dir, "secrets", "key.pem"))
}

func TestFullConfig(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":        fullConfig,
		"secrets/api_key": "ns-api-key\n",
		"secrets/key.pem": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
	})
	setFullEnv(t, dir)
	cfg, diags := Load(context.Background(), fakeDescriber, filepath.Join(dir, "main.hcl"))
	if len(diags) > 0 {
		var b strings.Builder
		FormatDiagnostics(&b, diags)
		t.Fatalf("unexpected diagnostics:\n%s", b.String())
	}

	if got, want := cfg.Store.Dir, filepath.Join(dir, "data"); got != want {
		t.Errorf("store dir = %q, want %q", got, want)
	}
	if cfg.Store.Redis == nil || cfg.Store.Redis.URL != "redis://:pw@localhost:6379/0" {
		t.Errorf("redis = %+v", cfg.Store.Redis)
	}
	if cfg.API.Listen != "127.0.0.1:7421" || cfg.API.Token != "api-token" || cfg.API.MaxBody != 2<<20 {
		t.Errorf("api = %+v", cfg.API)
	}

	crm := cfg.Connection("crm")
	if crm == nil || crm.Connector != "salesforce" {
		t.Fatalf("crm = %+v", crm)
	}
	if o := crm.OAuth2; o == nil || o.Flow != FlowAuthorizationCode || o.ClientID != "sf-client" ||
		o.ClientSecret != "sf-secret" || len(o.Scopes) != 2 || o.SessionLifetime != 2*time.Hour ||
		o.TokenURL != "https://login.salesforce.com/services/oauth2/token" {
		t.Errorf("crm oauth2 = %+v", crm.OAuth2)
	}
	if l := crm.Limits; l.PerDay != 100000 || l.Concurrency != 20 || l.Rate != 0 || l.InteractiveShare != DefaultInteractiveShare {
		t.Errorf("crm limits = %+v", l)
	}
	if got, want := string(crm.Settings), `{"api_version":"v61.0","instance_url":"https://acme.my.salesforce.com"}`; got != want {
		t.Errorf("crm settings = %s, want %s", got, want)
	}

	erp := cfg.Connection("erp")
	if l := erp.Limits; l.Rate != 99 || l.Per != time.Minute || l.Concurrency != 5 || l.InteractiveShare != 0.2 {
		t.Errorf("erp limits = %+v", l)
	}
	wantSettings := `{"account_id":"1234567","api_key":"ns-api-key",` +
		`"credit_limit":12345678901234567.89,` +
		`"extra":{"amounts":[0.1,99999999999999999999.99],"nested":{"ok":true}},` +
		`"ratio":0.10000000000000000001,"sandbox":false,"tags":{"region":"eu","tier":"1"}}`
	if got := string(erp.Settings); got != wantSettings {
		t.Errorf("erp settings =\n%s\nwant\n%s", got, wantSettings)
	}

	u := cfg.UnitTable("crm_to_erp")
	if u == nil || len(u.Entries) != 3 || u.Entries["Pack of 12"].Unit != "Case" ||
		u.Entries["Half"].Factor.Text('f', -1) != "0.5" || u.Entries["Each"].Factor.Text('f', -1) != "1" {
		t.Errorf("units = %+v", u)
	}

	p := cfg.Pipeline("orders_to_erp")
	if p.Source.Connection != "crm" || p.Source.Poll != 45*time.Second || p.Source.BatchSize != 200 {
		t.Errorf("source = %+v", p.Source)
	}
	if got, want := string(p.Source.Settings), `{"fields":["Id"],"object":"Order","where":"Status = 'Activated'"}`; got != want {
		t.Errorf("source settings = %s, want %s", got, want)
	}
	if p.Key == nil || p.When == nil || len(p.Lookups) != 2 || p.Lookups[0].Object != "stock" {
		t.Errorf("pipeline = %+v", p)
	}
	var names []string
	for _, f := range p.Map {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "externalId,entity,available,count" {
		t.Errorf("map order = %s", got)
	}
	if p.Destination.Object != "salesOrder" || p.Destination.Operation != "upsert" || p.Destination.BatchSize != 25 {
		t.Errorf("destination = %+v", p.Destination)
	}
	if r := p.Retry; r.Attempts != 5 || r.Backoff != BackoffConstant || r.BaseDelay != time.Second || r.MaxDelay != 10*time.Minute {
		t.Errorf("retry = %+v", r)
	}
	if p.Workers != 8 || p.ForgetDeliveredAfter != 90*24*time.Hour {
		t.Errorf("workers = %d, forget_delivered_after = %v", p.Workers, p.ForgetDeliveredAfter)
	}
	if h := cfg.Pipeline("hooks"); h.ForgetDeliveredAfter != 0 {
		t.Errorf("forget_delivered_after defaults to %v; want 0 (never)", h.ForgetDeliveredAfter)
	}
	if h := cfg.Pipeline("hooks"); h.Destination.BatchSize != DefaultWriteBatchSize {
		t.Errorf("destination batch_size defaults to %d; want %d", h.Destination.BatchSize, DefaultWriteBatchSize)
	}

	hooks := cfg.Pipeline("hooks")
	if hooks.Source.Poll != 0 || hooks.Webhook == nil || hooks.Webhook.Secret != "hook-secret" ||
		hooks.Webhook.Header != DefaultWebhookHeader || hooks.Webhook.MaxBody != 2<<20 ||
		hooks.Retry.Attempts != DefaultRetryAttempts || hooks.Workers != DefaultWorkers {
		t.Errorf("hooks = %+v, webhook %+v", hooks, hooks.Webhook)
	}

	// The kept expressions evaluate later with record and lookup.
	ctx := cfg.EvalContext(p.Dir, map[string]cty.Value{
		"record": cty.ObjectVal(map[string]cty.Value{
			"OrderNumber": cty.StringVal("00042"),
			"TotalAmount": cty.NumberIntVal(6000),
			"Account":     cty.ObjectVal(map[string]cty.Value{"AccountNumber": cty.StringVal("acc-1")}),
		}),
	})
	if v, diags := p.Key.Value(ctx); diags.HasErrors() || v.AsString() != "00042" {
		t.Errorf("key = %#v, %s", v, diags)
	}
	if v, diags := p.When.Value(ctx); diags.HasErrors() || !v.True() {
		t.Errorf("when = %#v, %s", v, diags)
	}
	if v, diags := p.Map[1].Expr.Value(ctx); diags.HasErrors() || v.GetAttr("externalId").AsString() != "ACC-1" {
		t.Errorf("map entity = %#v, %s", v, diags)
	}

	secrets := strings.Join(cfg.Secrets(), "|")
	for _, s := range []string{"redis://:pw@localhost:6379/0", "api-token", "sf-secret", "hook-secret", "ns-api-key", "BEGIN PRIVATE KEY"} {
		if !strings.Contains(secrets, s) {
			t.Errorf("Secrets() lacks %q: %q", s, secrets)
		}
	}
	if strings.Contains(secrets, "sf-client") {
		t.Errorf("Secrets() has a client id: %q", secrets)
	}
}

func TestDefaults(t *testing.T) {
	cfg, out := load(t, `
connection "jsonl" "files" { dir = "in" }
pipeline "p" {
  source "files" {}
  key = record.id
  destination "files" { object = "records" }
}
`, nil)
	if out != "" {
		t.Fatalf("diagnostics:\n%s", out)
	}
	if cfg.API.Listen != DefaultListen || cfg.API.MaxBody != DefaultMaxBody || cfg.Store.Redis != nil ||
		filepath.Base(cfg.Store.Dir) != DefaultStoreDir {
		t.Errorf("defaults: api %+v store %+v", cfg.API, cfg.Store)
	}
	p := cfg.Pipelines[0]
	if p.Source.Poll != DefaultPoll || p.Source.BatchSize != DefaultBatchSize || p.Destination.Operation != DefaultOperation ||
		p.Retry.Backoff != DefaultBackoff || p.Retry.MaxDelay != DefaultMaxDelay || p.When != nil || p.Map != nil {
		t.Errorf("pipeline defaults: %+v", p)
	}
	if string(p.Source.Settings) != `{}` || string(cfg.Connections[0].Settings) != `{"dir":"in"}` {
		t.Errorf("settings: %s %s", p.Source.Settings, cfg.Connections[0].Settings)
	}
}

func TestThreeErrors(t *testing.T) {
	_, out := load(t, `connection "jsonl" "files" {
  dir   = "in"
  bogus = 1
}
pipeline "p" {
  source "files" { poll = "soon" }
  key = record.id
  destination "nowhere" { object = "records" }
}
`, nil)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		`main.hcl:3:3: Unsupported argument: An argument named "bogus" is not expected here.`,
		`main.hcl:6:27: Invalid duration: "soon" is not a duration`,
		`main.hcl:8:15: Unknown connection: There is no connection named "nowhere"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestDiagnosticRanges(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `connection "jsonl" "files" {
  dir = "in"
  limits { rate = 0 }
}
`})
	_, diags := Parse(filepath.Join(dir, "main.hcl"))
	var found *hcl.Diagnostic
	for _, d := range diags {
		if strings.Contains(d.Detail, "rate must be greater than 0") {
			found = d
		}
	}
	if found == nil {
		t.Fatalf("no rate diagnostic: %v", diags)
	}
	// Subject is the value, Context the attribute.
	if s := found.Subject; s.Start.Line != 3 || s.Start.Column != 19 || s.End.Column != 20 {
		t.Errorf("subject = %v", s)
	}
	if c := found.Context; c == nil || c.Start.Column != 12 || c.End.Column != 20 {
		t.Errorf("context = %v", c)
	}
}

func TestSecrets(t *testing.T) {
	t.Setenv("WEIR_TEST_SECRET", "s3cr3t")
	tests := []struct {
		name    string
		src     string
		want    string // a diagnostic line prefix, or "" for none
		secrets []string
	}{
		{
			name: "literal host secret",
			src: `connection "salesforce" "crm" {
  instance_url = "https://x"
  oauth2 {
    flow          = "authorization_code"
    client_id     = "id"
    client_secret = "hunter2"
  }
}`,
			want: `main.hcl:6:21: Literal secret: client_secret is sensitive and must not be written in the file: use env("NAME") or file("path") so the secret stays out of the file.`,
		},
		{
			name: "literal connector secret",
			src: `connection "netsuite" "erp" {
  account_id = "1"
  api_key    = "hunter2"
}`,
			want: `main.hcl:3:16: Literal secret: api_key is sensitive`,
		},
		{
			name: "literal in a template",
			src:  `api { token = "Bearer ${upper("x")}" }`,
			want: `main.hcl:1:15: Literal secret: token is sensitive`,
		},
		{
			name:    "env",
			src:     `api { token = env("WEIR_TEST_SECRET") }`,
			secrets: []string{"s3cr3t"},
		},
		{
			name: "env in connector attribute",
			src: `connection "netsuite" "erp" {
  account_id = "1"
  api_key    = "key-${env("WEIR_TEST_SECRET")}"
}`,
			secrets: []string{"key-s3cr3t"},
		},
		{
			name: "env unset",
			src:  `api { token = env("WEIR_TEST_UNSET_VARIABLE") }`,
			want: `main.hcl:1:20: Invalid function argument: Invalid value for "name" parameter: environment variable WEIR_TEST_UNSET_VARIABLE is not set.`,
		},
		{
			name: "file missing",
			src:  `api { token = file("nope.txt") }`,
			want: `main.hcl:1:21: Invalid function argument: Invalid value for "path" parameter: cannot read file `,
		},
		{
			name: "file",
			src: `store {
  redis { url = file("redis.url") }
}`,
			secrets: []string{"redis://x:6379"},
		},
		{
			name: "webhook secret missing",
			src: `connection "salesforce" "crm" { instance_url = "https://x" }
pipeline "p" {
  source "crm" { object = "Order" }
  webhook { auth = "token" }
  key = record.Id
  destination "crm" { object = "Account" }
}`,
			want: `main.hcl:4:3: Missing secret: auth = "token" needs secret`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, out := load(t, tt.src, map[string]string{"redis.url": "redis://x:6379"})
			if tt.want == "" && out != "" {
				t.Fatalf("diagnostics:\n%s", out)
			}
			if tt.want != "" && !strings.HasPrefix(out, tt.want) {
				t.Fatalf("got\n%s\nwant prefix\n%s", out, tt.want)
			}
			if tt.want != "" && strings.Count(out, "\n") != 1 {
				t.Errorf("want one diagnostic, got\n%s", out)
			}
			if got := strings.Join(cfg.Secrets(), ","); got != strings.Join(tt.secrets, ",") {
				t.Errorf("Secrets() = %q, want %q", got, tt.secrets)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("a secret leaked into a message: %s", out)
			}
		})
	}
}

func TestExpressions(t *testing.T) {
	pipeline := func(body string) string {
		return `connection "netsuite" "erp" { account_id = "1" }
pipeline "p" {
  source "files" {}
` + body + `
  destination "erp" { object = "salesOrder" }
}
connection "jsonl" "files" { dir = "x" }`
	}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{
			name: "unknown function",
			body: `  key = foo(record.id)`,
			want: []string{`main.hcl:4:9: Call to unknown function: There is no function named "foo".`},
		},
		{
			name: "suggestion",
			body: `  key = uper(record.id)`,
			want: []string{`main.hcl:4:9: Call to unknown function: There is no function named "uper". Did you mean "upper"?`},
		},
		{
			name: "unknown variable",
			body: `  key = record.id
  when = rec.total > 1`,
			want: []string{`main.hcl:5:10: Unknown variable: There is no variable named "rec": when may refer to record (the source record).`},
		},
		{
			name: "unknown function and variable in map",
			body: `  key = record.id
  map {
    a = "x"
    b = nope(item.x, lookup.stock)
  }`,
			want: []string{
				`main.hcl:7:9: Call to unknown function: There is no function named "nope".`,
				`main.hcl:7:14: Unknown variable: There is no variable named "item": map field b may refer to record (the source record) and lookup.<name> (a lookup's result).`,
				`main.hcl:7:22: Unknown lookup: There is no lookup named "stock" in this pipeline.`,
			},
		},
		{
			name: "lookup in key",
			body: `  lookup "stock" { connection = "erp" }
  key = lookup.stock.id`,
			want: []string{`main.hcl:5:9: Lookup results not available: key is evaluated before lookups run: it may refer only to record.`},
		},
		{
			name: "lookup declared later",
			body: `  key = record.id
  lookup "a" {
    connection = "erp"
    object     = "stock"
    query      = { x = lookup.b.y }
  }
  lookup "b" {
    connection = "erp"
    object     = "stock"
  }`,
			want: []string{`main.hcl:8:24: Lookup not available: the query of lookup "a" may refer only to lookups declared before it, and lookup "b" is not.`},
		},
		{
			name: "for variables are local",
			body: `  key = join(",", [for k, v in record.items : "${k}=${v}"])
  map { x = { for i in record.items : i.id => i } }`,
		},
		{
			name: "missing key",
			body: ``,
			want: []string{`main.hcl:2:14: Missing required argument: The argument "key" is required, but no definition was found.`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := load(t, pipeline(tt.body), nil)
			want := strings.Join(tt.want, "\n")
			if want != "" {
				want += "\n"
			}
			if out != want {
				t.Errorf("got\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	t.Setenv("WEIR_TEST_SECRET", "s3cr3t")
	tests := []struct {
		name string
		src  string
		want []string // diagnostic line prefixes, in order
	}{
		{
			name: "limits",
			src: `connection "netsuite" "a" {
  account_id = "1"
  limits {
    rate = 2.5
    per  = "-1m"
    concurrency = -1
    per_day = 0
    interactive_share = 1
  }
}`,
			want: []string{
				`main.hcl:4:12: Invalid value: rate must be a whole number, not 2.5.`,
				`main.hcl:5:12: Invalid duration: per must be greater than 0, got "-1m".`,
				`main.hcl:6:19: Invalid value: concurrency must not be negative, got -1.`,
				`main.hcl:7:15: Invalid value: per_day must be greater than 0, got 0.`,
				`main.hcl:8:25: Invalid value: interactive_share must be at least 0 and less than 1, such as 0.1 for 10%.`,
			},
		},
		{
			name: "rate without per",
			src: `connection "netsuite" "a" {
  account_id = "1"
  limits { rate = 5 }
}`,
			want: []string{`main.hcl:3:12: Missing per: rate needs per`},
		},
		{
			name: "limits and oauth2 on a local connector",
			src: `connection "jsonl" "a" {
  dir = "x"
  limits {
    rate = 5
    per  = "1m"
  }
  oauth2 {
    flow      = "client_credentials"
    client_id = "id"
    client_secret = env("WEIR_TEST_SECRET")
    token_url = "https://x/token"
  }
}`,
			want: []string{
				`main.hcl:3:3: warning: Limits have no effect: Connector "jsonl" reaches no vendor: it makes no requests for the limits of connection "a" to count.`,
				`main.hcl:7:3: warning: OAuth 2.0 has no effect: Connector "jsonl" reaches no vendor: connection "a" never uses a token.`,
			},
		},
		{
			name: "sizes and api",
			src: `api {
  listen = "nowhere"
  max_body = "12 parsecs"
}`,
			want: []string{
				`main.hcl:2:12: Invalid listen address: "nowhere" is not a host:port address`,
				`main.hcl:3:14: Invalid size: "12 parsecs" has an unknown unit "parsecs"`,
			},
		},
		{
			name: "duplicates",
			src: `connection "jsonl" "a" { dir = "x" }
connection "jsonl" "a" { dir = "y" }
store {}
store {}`,
			want: []string{
				`main.hcl:2:20: Duplicate connection name: A connection named "a" was already declared at `,
				`main.hcl:4:1: Duplicate store block: Only one store block is allowed; the first is at `,
			},
		},
		{
			name: "unknown block and attribute",
			src: `pipelines "p" {}
api { port = 1 }`,
			want: []string{
				`main.hcl:1:1: Unsupported block type: Blocks of type "pipelines" are not expected here. Did you mean "pipeline"?`,
				`main.hcl:2:7: Unsupported argument: An argument named "port" is not expected here.`,
			},
		},
		{
			name: "wrong types",
			src: `connection "netsuite" "erp" {
  account_id = ["1"]
  sandbox    = "maybe"
}`,
			want: []string{
				`main.hcl:2:16: Incorrect attribute value type: Inappropriate value for account_id: string required, but have tuple.`,
				`main.hcl:3:16: Incorrect attribute value type: Inappropriate value for sandbox: a bool is required.`,
			},
		},
		{
			name: "nested type error",
			src: `connection "netsuite" "erp" {
  account_id = "1"
  tags       = { a = "x", b = ["y"] }
}`,
			want: []string{`main.hcl:3:16: Incorrect attribute value type: Inappropriate value for tags: element "b": string required, but have tuple.`},
		},
		{
			name: "names and warnings",
			src: `connection "jsonl" "my files" { dir = "x" }
pipeline "p" {
  source "my files" {}
  webhook {
    auth   = "none"
    secret = env("HOME")
  }
  key = record.id
  lookup "bad.name" { connection = "my files" }
  destination "my files" { object = "records" }
}`,
			want: []string{
				`main.hcl:1:20: Invalid connection name: "my files" is not a valid connection name`,
				`main.hcl:4:3: Connection cannot receive webhooks`,
				`main.hcl:6:5: warning: Unused secret: secret is ignored with auth = "none".`,
				`main.hcl:9:10: Invalid lookup name: "bad.name" is not a valid lookup name`,
				`main.hcl:9:36: Connection cannot answer lookups`,
			},
		},
		{
			name: "write batch size",
			src: `connection "jsonl" "files" { dir = "x" }
pipeline "p" {
  source "files" {}
  key = record.id
  destination "files" {
    object     = "records"
    batch_size = 0
  }
}
pipeline "q" {
  source "files" {}
  key = record.id
  destination "files" {
    object     = "records"
    batch_size = 20000
  }
}`,
			want: []string{
				`main.hcl:7:18: Invalid value: batch_size must be greater than 0, got 0.`,
				`main.hcl:15:18: Invalid value: batch_size must be at most 10000, got 20000: a batch is one lease and one connector call.`,
			},
		},
		{
			name: "missing required connector attribute",
			src:  `connection "netsuite" "erp" {}`,
			want: []string{`main.hcl:1:29: Missing required argument: The argument "account_id" is required`},
		},
		{
			name: "describe error",
			src:  `connection "sap" "erp" { x = 1 }`,
			want: []string{`main.hcl:1:12: Cannot describe connector: Connector "sap" of connection "erp": weir-connector-sap not found.`},
		},
		{
			name: "oauth2",
			src: `connection "salesforce" "crm" {
  instance_url = "https://x"
  oauth2 {
    flow = "client_credentials"
    token_url = "not a url"
  }
}`,
			want: []string{
				`main.hcl:3:3: Missing required argument: The "client_credentials" flow needs client_id.`,
				`main.hcl:3:3: Missing required argument: The "client_credentials" flow needs client_secret or private_key.`,
				`main.hcl:4:12: Unsupported OAuth 2.0 flow: Connector "salesforce" supports the flows "authorization_code" or "jwt_bearer", not "client_credentials".`,
				`main.hcl:5:17: Invalid URL: token_url must be an absolute http or https URL`,
			},
		},
		{
			name: "units",
			src: `units "u" {
  entries = {
    "Each" = { unit = "Unit", factor = 0 }
    "Box"  = { units = "Box" }
  }
}`,
			want: []string{
				`main.hcl:3:40: Invalid unit: factor of "Each" must be greater than 0.`,
				`main.hcl:4:16: Unsupported argument: A unit has unit and factor, not "units". Did you mean "unit"?`,
			},
		},
		{
			name: "capabilities and objects",
			src: `connection "netsuite" "erp" { account_id = "1" }
connection "jsonl" "files" { dir = "x" }
pipeline "p" {
  source "erp" { poll = "1m" }
  webhook { auth = "none" }
  key = record.id
  lookup "stock" { connection = "files" }
  lookup "price" { connection = "erp" }
  destination "erp" {
    object    = "salesorder"
  }
}
pipeline "q" {
  source "files" { poll = "1m" }
  key = record.id
  destination "erp" {
    object    = "salesOrder"
    operation = "insert"
  }
  retry {
    base_delay = "1m"
    max_delay  = "1s"
  }
  workers = 0
}`,
			want: []string{
				`main.hcl:4:10: Connection cannot be a source: Connection "erp" uses connector "netsuite", which cannot read records`,
				`main.hcl:5:3: Connection cannot receive webhooks`,
				`main.hcl:7:33: Connection cannot answer lookups`,
				`main.hcl:8:10: Unknown lookup object: Connector "netsuite" has no lookup object "price". It has "stock".`,
				`main.hcl:10:17: Unknown destination object: Connector "netsuite" has no writable object "salesorder". It has "salesOrder". Did you mean "salesOrder"?`,
				`main.hcl:18:17: Unsupported operation: Object "salesOrder" of connector "netsuite" supports the operations "upsert" or "delete", not "insert".`,
				`main.hcl:22:18: Invalid value: max_delay (1s) must not be less than base_delay (1m0s).`,
				`main.hcl:24:13: Invalid value: workers must be greater than 0, got 0.`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := load(t, tt.src, nil)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if out == "" {
				lines = nil
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(lines), len(tt.want), out)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], w)
				}
			}
		})
	}
}

func TestMultipleFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a/conn.hcl":  `connection "jsonl" "files" { dir = file("dir.txt") }`,
		"a/dir.txt":   "in",
		"b/pipes.hcl": "pipeline \"p\" {\n  source \"files\" {}\n  key = record.id\n  destination \"files\" { object = \"records\" }\n}\n",
		"b/dup.hcl":   "connection \"jsonl\" \"files\" { dir = \"x\" }\n",
	})
	cfg, diags := Load(context.Background(), fakeDescriber,
		filepath.Join(dir, "a/conn.hcl"), filepath.Join(dir, "b/pipes.hcl"), filepath.Join(dir, "b/dup.hcl"))
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "a/conn.hcl:1:20") || diags[0].Subject.Filename != filepath.Join(dir, "b/dup.hcl") {
		t.Fatalf("diags = %v", diags)
	}
	if string(cfg.Connection("files").Settings) != `{"dir":"in"}` || cfg.Pipeline("p") == nil || len(cfg.Files) != 3 {
		t.Errorf("config = %+v", cfg)
	}
}

func TestRegister(t *testing.T) {
	Register("test_units_count", func(c *Config, _ string) function.Function {
		return function.New(&function.Spec{
			Type: function.StaticReturnType(cty.Number),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
				return cty.NumberIntVal(int64(len(c.Units))), nil
			},
		})
	})
	defer func() {
		registry.Lock()
		delete(registry.m, "test_units_count")
		registry.Unlock()
	}()
	cfg, out := load(t, `units "u" { entries = {} }
connection "jsonl" "f" { dir = "x" }
pipeline "p" {
  source "f" {}
  key = test_units_count()
  destination "f" { object = "records" }
}`, nil)
	if out != "" {
		t.Fatalf("diagnostics:\n%s", out)
	}
	p := cfg.Pipelines[0]
	v, diags := p.Key.Value(cfg.EvalContext(p.Dir, nil))
	if diags.HasErrors() || v.AsBigFloat().String() != "1" {
		t.Errorf("key = %#v %v", v, diags)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Register of a built-in name did not panic")
			}
		}()
		Register("env", func(*Config, string) function.Function { return envFunc })
	}()
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1MiB": 1 << 20, "512KiB": 512 << 10, "10MB": 10e6, "2048": 2048, "1.5KiB": 1536, "1 gb": 1e9, "7B": 7,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.1B", "-1KB", "1 XB", "99999999999999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}

func TestFormat(t *testing.T) {
	bad := "pipeline \"p\" {\nkey=record.id\n  workers   =   4\n}\n"
	good := "pipeline \"p\" {\n  key     = record.id\n  workers = 4\n}\n"
	if got := string(Format([]byte(bad))); got != good {
		t.Fatalf("Format =\n%s\nwant\n%s", got, good)
	}
	dir := writeFiles(t, map[string]string{"bad.hcl": bad, "good.hcl": good, "broken.hcl": "pipeline \"p\" {\n  key = \n}\n"})
	badPath, goodPath := filepath.Join(dir, "bad.hcl"), filepath.Join(dir, "good.hcl")

	changed, err := FormatFiles([]string{badPath, goodPath}, true)
	if err != nil || len(changed) != 1 || changed[0] != badPath {
		t.Fatalf("check: changed %v, err %v", changed, err)
	}
	if b, _ := os.ReadFile(badPath); string(b) != bad {
		t.Fatal("check mode rewrote the file")
	}
	if changed, err = FormatFiles([]string{badPath, goodPath}, false); err != nil || len(changed) != 1 {
		t.Fatalf("format: changed %v, err %v", changed, err)
	}
	if b, _ := os.ReadFile(badPath); !bytes.Equal(b, []byte(good)) {
		t.Fatalf("formatted file =\n%s", b)
	}
	if changed, err = FormatFiles([]string{badPath, goodPath}, true); err != nil || len(changed) != 0 {
		t.Fatalf("check after format: changed %v, err %v", changed, err)
	}

	_, err = FormatFiles([]string{filepath.Join(dir, "broken.hcl")}, true)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "broken.hcl")+":2:") {
		t.Fatalf("broken file: err = %v", err)
	}
}

func TestFormatDiagnostics(t *testing.T) {
	r := func(line, col, b int) *hcl.Range {
		return &hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: line, Column: col, Byte: b}, End: hcl.Pos{Line: line, Column: col + 1, Byte: b + 1}}
	}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Second", Detail: "two\n  lines.", Subject: r(3, 1, 30)},
		{Severity: hcl.DiagWarning, Summary: "First", Detail: "careful.", Subject: r(1, 5, 4)},
		{Severity: hcl.DiagError, Summary: "No place"},
	}
	var b strings.Builder
	if err := FormatDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	want := "No place\nf.hcl:1:5: warning: First: careful.\nf.hcl:3:1: Second: two lines.\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestUnitsFromExpression(t *testing.T) {
	cfg, out := load(t, `units "u" {
  entries = merge({ "Each" = { unit = "Unit" } }, { "Box" = { unit = "Box", factor = 12.5 } })
}
units "v" {
  entries = { 12 = { unit = "Dozen" } }
}
units "w" {
  entries = merge({ "Box" = { unit = "Box", size = 12 } })
}`, nil)
	if want := "main.hcl:8:13: Unsupported argument: A unit has unit and factor, not \"size\".\n"; out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	u := cfg.UnitTable("u")
	if len(u.Entries) != 2 || u.Entries["Box"].Factor.Text('f', -1) != "12.5" || u.Entries["Each"].Unit != "Unit" {
		t.Errorf("entries = %+v", u.Entries)
	}
	if cfg.UnitTable("v").Entries["12"].Unit != "Dozen" {
		t.Errorf("numeric key: %+v", cfg.UnitTable("v").Entries)
	}
}

func TestLookupRoutes(t *testing.T) {
	cfg, diags := load(t, `
connection "netsuite" "erp" {
  account_id = "1"
}

connection "jsonl" "files" {
  dir = "x"
}

lookup "stock" {
  connection = "erp"
  cache      = "5s"
}

lookup "items" {
  connection = "erp"
  object     = "stock"
}

lookup "bad" {
  connection = "files"
}

lookup "stock" {
  connection = "erp"
}
`, nil)
	want := []string{
		`main.hcl:21:16: Connection cannot answer lookups`,
		`main.hcl:24:8: Duplicate lookup name`,
	}
	lines := strings.Split(strings.TrimSpace(diags), "\n")
	if len(lines) != len(want) {
		t.Fatalf("diagnostics:\n%s", diags)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("diagnostic %d = %q; want prefix %q", i, lines[i], w)
		}
	}
	if len(cfg.LookupRoutes) != 3 {
		t.Fatalf("%d routes", len(cfg.LookupRoutes))
	}
	if r := cfg.LookupRoutes[0]; r.Name != "stock" || r.Object != "stock" || r.Cache != 5*time.Second || r.Connection != "erp" {
		t.Errorf("stock = %+v", r)
	}
	if r := cfg.LookupRoutes[1]; r.Object != "stock" || r.Cache != DefaultLookupCache {
		t.Errorf("items = %+v", r)
	}
}
