package config

import (
	"cmp"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "store"},
		{Type: "api"},
		{Type: "units", LabelNames: []string{"name"}},
		{Type: "connection", LabelNames: []string{"connector", "name"}},
		{Type: "pipeline", LabelNames: []string{"name"}},
		{Type: "lookup", LabelNames: []string{"name"}},
	},
}

// Parse reads and decodes the configuration files (phase 1): everything the
// host knows about. Connector-specific attributes are kept for Resolve.
// It reports every error of every file, in source order, and always returns
// a non-nil Config.
func Parse(filenames ...string) (*Config, hcl.Diagnostics) {
	cfg := &Config{Files: map[string]*hcl.File{}}
	d := &decoder{cfg: cfg}
	if len(filenames) == 0 {
		d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError,
			Summary: "No configuration files", Detail: "Give at least one configuration file."})
		return cfg, d.diags
	}
	type file struct {
		s      *scope
		blocks hcl.Blocks
	}
	var files []file
	p := hclparse.NewParser()
	for _, name := range filenames {
		f, diags := p.ParseHCLFile(name)
		d.diags = append(d.diags, diags...)
		if f == nil || f.Body == nil {
			continue
		}
		c := d.content(f.Body, rootSchema)
		files = append(files, file{s: d.scope(filepath.Dir(name)), blocks: c.Blocks})
	}
	cfg.Files = p.Files()

	cfg.Store.Dir = filepath.Join(filepath.Dir(filenames[0]), DefaultStoreDir)
	cfg.API = API{Listen: DefaultListen, MaxBody: DefaultMaxBody}

	// Decode kind by kind, so that each kind can rely on the ones before:
	// webhooks default to the API's max_body, pipelines refer to
	// connections.
	var firstStore, firstAPI *hcl.Block
	for _, kind := range []string{"store", "api", "units", "connection", "pipeline", "lookup"} {
		for _, f := range files {
			for _, b := range f.blocks {
				if b.Type != kind {
					continue
				}
				switch kind {
				case "store":
					if firstStore != nil {
						d.errorAt(b.DefRange, blockRange(b), "Duplicate store block",
							"Only one store block is allowed; the first is at %s.", pos(firstStore.DefRange))
						continue
					}
					firstStore = b
					d.decodeStore(b, f.s)
				case "api":
					if firstAPI != nil {
						d.errorAt(b.DefRange, blockRange(b), "Duplicate api block",
							"Only one api block is allowed; the first is at %s.", pos(firstAPI.DefRange))
						continue
					}
					firstAPI = b
					d.decodeAPI(b, f.s)
				case "units":
					d.decodeUnits(b, f.s)
				case "connection":
					d.decodeConnection(b, f.s)
				case "pipeline":
					d.decodePipeline(b, f.s)
				case "lookup":
					d.decodeLookupRoute(b, f.s)
				}
			}
		}
	}
	SortDiagnostics(d.diags)
	return cfg, d.diags
}

// duplicateName reports a second declaration of a name.
func (d *decoder) duplicateName(kind, name string, b *hcl.Block, labelIndex int, first hcl.Range) {
	d.errorAt(nameRange(b, labelIndex), b.DefRange, "Duplicate "+kind+" name",
		"A %s named %q was already declared at %s; %s names must be unique.", kind, name, pos(first), kind)
}

var storeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "dir"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "redis"}},
}

var redisSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "prefix"}},
}

func (d *decoder) decodeStore(b *hcl.Block, s *scope) {
	st := &d.cfg.Store
	st.DeclRange = b.DefRange
	c := d.content(b.Body, storeSchema)
	var dir string
	if d.str(c.Attributes, "dir", s, required, &dir) {
		if dir == "" {
			d.attrError(c.Attributes["dir"], "Invalid value", "dir must not be empty.")
		} else if filepath.IsAbs(dir) {
			st.Dir = filepath.Clean(dir)
		} else {
			st.Dir = filepath.Join(s.dir, dir)
		}
	}
	rb := d.single(c.Blocks, "redis", "in a store block")
	if rb == nil {
		return
	}
	st.Redis = &Redis{DeclRange: rb.DefRange}
	rc := d.content(rb.Body, redisSchema)
	if d.str(rc.Attributes, "url", s, required|sensitive, &st.Redis.URL) {
		// The URL may hold a password: never repeat it in a message.
		u, err := url.Parse(st.Redis.URL)
		if err != nil || !redisSchemes[u.Scheme] {
			d.attrError(rc.Attributes["url"], "Invalid Redis URL",
				"url must be a redis://, rediss://, unix://, redis+cluster:// or redis-sentinel:// URL, such as redis://:password@host:6379/0.")
		}
	}
	if d.str(rc.Attributes, "prefix", s, required, &st.Redis.Prefix) && !redisPrefixRE.MatchString(st.Redis.Prefix) {
		d.attrError(rc.Attributes["prefix"], "Invalid Redis key prefix",
			"prefix may hold only letters, digits, '.', '_' and '-' (at most 64), got %q.", st.Redis.Prefix)
	}
}

// redisSchemes are the URL schemes of the Redis store.
var redisSchemes = map[string]bool{
	"redis": true, "rediss": true, "unix": true, "redis+cluster": true, "rediss+cluster": true,
	"redis-sentinel": true, "rediss-sentinel": true,
}

var redisPrefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

var apiSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "listen"}, {Name: "token"}, {Name: "max_body"}},
}

func (d *decoder) decodeAPI(b *hcl.Block, s *scope) {
	api := &d.cfg.API
	api.DeclRange = b.DefRange
	c := d.content(b.Body, apiSchema)
	var listen string
	if d.str(c.Attributes, "listen", s, required, &listen) {
		if _, port, err := net.SplitHostPort(listen); err != nil {
			d.attrError(c.Attributes["listen"], "Invalid listen address",
				"%q is not a host:port address, such as \"127.0.0.1:7420\" or \":7420\".", listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			d.attrError(c.Attributes["listen"], "Invalid listen address", "%q has an invalid port.", listen)
		} else {
			api.Listen = listen
		}
	}
	d.str(c.Attributes, "token", s, required|sensitive, &api.Token)
	d.size(c.Attributes, "max_body", s, required, &api.MaxBody)
}

var unitsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "entries", Required: true}},
}

func (d *decoder) decodeUnits(b *hcl.Block, s *scope) {
	d.checkName(b, 0, "units")
	name := b.Labels[0]
	if prev := d.cfg.UnitTable(name); prev != nil {
		d.duplicateName("units", name, b, 0, prev.NameRange)
		return
	}
	u := &UnitTable{Name: name, Entries: map[string]Unit{}, DeclRange: b.DefRange, NameRange: nameRange(b, 0)}
	d.cfg.Units = append(d.cfg.Units, u)
	c := d.content(b.Body, unitsSchema)
	attr := c.Attributes["entries"]
	if attr == nil {
		return
	}
	items, _ := d.items(attr, attr.Expr, s)
	seen := map[string]hcl.Range{}
	for _, it := range items {
		if first, ok := seen[it.key]; ok {
			d.errorAt(it.keyRange, attr.Range, "Duplicate unit",
				"Unit %q is already in this table, at %s.", it.key, pos(first))
			continue
		}
		seen[it.key] = it.keyRange
		if e, ok := d.decodeUnit(attr, it, s); ok {
			u.Entries[it.key] = e
		}
	}
}

// item is one key and value of an object, with their ranges.
type item struct {
	key        string
	keyRange   hcl.Range
	value      cty.Value
	valueExpr  hcl.Expression // nil when the object was not written literally
	valueRange hcl.Range
}

// items evaluates an object expression item by item, so that each key and
// value keeps its own range when the object is written literally.
func (d *decoder) items(attr *hcl.Attribute, expr hcl.Expression, s *scope) ([]item, bool) {
	if oc, ok := expr.(*hclsyntax.ObjectConsExpr); ok {
		var out []item
		good := true
		for _, it := range oc.Items {
			kv, diags := it.KeyExpr.Value(s.ctx)
			d.diags = append(d.diags, diags...)
			if diags.HasErrors() {
				good = false
				continue
			}
			kv, err := convert.Convert(kv, cty.String)
			if err != nil || kv.IsNull() || !kv.IsKnown() {
				d.errorAt(it.KeyExpr.Range(), attr.Range, "Invalid key", "Keys must be strings.")
				good = false
				continue
			}
			vv, diags := it.ValueExpr.Value(s.ctx)
			d.diags = append(d.diags, diags...)
			if diags.HasErrors() {
				good = false
				continue
			}
			out = append(out, item{key: kv.AsString(), keyRange: it.KeyExpr.Range(),
				value: vv, valueExpr: it.ValueExpr, valueRange: it.ValueExpr.Range()})
		}
		return out, good
	}
	v, diags := expr.Value(s.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return nil, false
	}
	ty := v.Type()
	if v.IsNull() || !v.IsWhollyKnown() || !(ty.IsObjectType() || ty.IsMapType()) {
		d.errorAt(expr.Range(), attr.Range, "Incorrect attribute value type", "%s must be an object.", attr.Name)
		return nil, false
	}
	var out []item
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		out = append(out, item{key: k.AsString(), keyRange: expr.Range(), value: e, valueRange: expr.Range()})
	}
	return out, true
}

// decodeUnit decodes { unit = "Case", factor = 1 }.
func (d *decoder) decodeUnit(attr *hcl.Attribute, it item, s *scope) (Unit, bool) {
	u := Unit{Factor: big.NewFloat(1), Range: it.valueRange}
	ty := it.value.Type()
	if it.value.IsNull() || !(ty.IsObjectType() || ty.IsMapType()) {
		d.errorAt(it.valueRange, attr.Range, "Invalid unit",
			"Unit %q must be an object such as { unit = \"Case\", factor = 1 }.", it.key)
		return u, false
	}
	var fields []item
	if it.valueExpr != nil {
		var ok bool
		if fields, ok = d.items(attr, it.valueExpr, s); !ok {
			return u, false
		}
	} else {
		for e := it.value.ElementIterator(); e.Next(); {
			k, v := e.Element()
			fields = append(fields, item{key: k.AsString(), keyRange: it.valueRange, value: v, valueRange: it.valueRange})
		}
	}
	good, hasUnit := true, false
	for _, f := range fields {
		switch f.key {
		case "unit":
			v, err := convert.Convert(f.value, cty.String)
			if err != nil || v.IsNull() || v.AsString() == "" {
				d.errorAt(f.valueRange, attr.Range, "Invalid unit", "unit of %q must be a non-empty string.", it.key)
				good = false
				continue
			}
			u.Unit, hasUnit = v.AsString(), true
		case "factor":
			v, err := convert.Convert(f.value, cty.Number)
			if err != nil || v.IsNull() {
				d.errorAt(f.valueRange, attr.Range, "Invalid unit", "factor of %q must be a number.", it.key)
				good = false
				continue
			}
			if v.AsBigFloat().Sign() <= 0 || v.AsBigFloat().IsInf() {
				d.errorAt(f.valueRange, attr.Range, "Invalid unit", "factor of %q must be greater than 0.", it.key)
				good = false
				continue
			}
			u.Factor = v.AsBigFloat()
		default:
			d.errorAt(f.keyRange, attr.Range, "Unsupported argument",
				"A unit has unit and factor, not %q.%s", f.key, didYouMean(f.key, []string{"unit", "factor"}))
			good = false
		}
	}
	if !hasUnit && good {
		d.errorAt(it.valueRange, attr.Range, "Missing unit", "Unit %q needs unit, the destination unit's name.", it.key)
		good = false
	}
	return u, good
}

var connectionSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "oauth2"}, {Type: "limits"}},
}

func (d *decoder) decodeConnection(b *hcl.Block, s *scope) {
	d.checkName(b, 0, "connector")
	d.checkName(b, 1, "connection")
	name := b.Labels[1]
	if prev := d.cfg.Connection(name); prev != nil {
		d.duplicateName("connection", name, b, 1, prev.NameRange)
		return
	}
	conn := &Connection{
		Connector:      b.Labels[0],
		Name:           name,
		Dir:            s.dir,
		DeclRange:      b.DefRange,
		ConnectorRange: nameRange(b, 0),
		NameRange:      nameRange(b, 1),
		Limits:         Limits{InteractiveShare: DefaultInteractiveShare},
	}
	d.cfg.Connections = append(d.cfg.Connections, conn)
	c, remain, diags := b.Body.PartialContent(connectionSchema)
	d.diags = append(d.diags, diags...)
	conn.Body = remain
	if ob := d.single(c.Blocks, "oauth2", "in a connection"); ob != nil {
		conn.OAuth2 = d.decodeOAuth2(ob, s)
	}
	if lb := d.single(c.Blocks, "limits", "in a connection"); lb != nil {
		d.decodeLimits(lb, s, &conn.Limits)
	}
}

var oauth2Schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "flow", Required: true},
		{Name: "client_id"},
		{Name: "client_secret"},
		{Name: "private_key"},
		{Name: "certificate_id"},
		{Name: "username"},
		{Name: "password"},
		{Name: "scopes"},
		{Name: "token_url"},
		{Name: "authorization_url"},
		{Name: "redirect_url"},
		{Name: "session_lifetime"},
	},
}

// flowNeeds lists the attributes each flow needs; a "|" separates
// alternatives.
var flowNeeds = map[string][]string{
	FlowAuthorizationCode:    {"client_id"},
	FlowClientCredentials:    {"client_id", "client_secret|private_key"},
	FlowClientCredentialsJWT: {"client_id", "private_key"},
	FlowJWTBearer:            {"client_id", "private_key"},
	FlowBasic:                {"username", "password"},
}

func (d *decoder) decodeOAuth2(b *hcl.Block, s *scope) *OAuth2 {
	o := &OAuth2{DeclRange: b.DefRange}
	c := d.content(b.Body, oauth2Schema)
	a := c.Attributes
	if attr := a["flow"]; attr != nil {
		o.FlowRange = attr.Expr.Range()
	}
	flowOK := d.enum(a, "flow", s, required, &o.Flow, FlowAuthorizationCode, FlowClientCredentials,
		FlowClientCredentialsJWT, FlowJWTBearer, FlowBasic)
	d.str(a, "client_id", s, required, &o.ClientID)
	d.str(a, "client_secret", s, required|sensitive, &o.ClientSecret)
	d.str(a, "private_key", s, required|sensitive, &o.PrivateKey)
	d.str(a, "certificate_id", s, required, &o.CertificateID)
	d.str(a, "username", s, required, &o.Username)
	d.str(a, "password", s, required|sensitive, &o.Password)
	d.strList(a, "scopes", s, required, &o.Scopes)
	d.httpURL(a, "token_url", s, required, &o.TokenURL)
	d.httpURL(a, "authorization_url", s, required, &o.AuthorizationURL)
	d.httpURL(a, "redirect_url", s, required, &o.RedirectURL)
	d.duration(a, "session_lifetime", s, required, &o.SessionLifetime)
	if !flowOK {
		return o
	}
	for _, need := range flowNeeds[o.Flow] {
		alts := strings.Split(need, "|")
		found := false
		for _, alt := range alts {
			if a[alt] != nil {
				found = true
			}
		}
		if !found {
			what := alts[0]
			if len(alts) > 1 {
				what = alts[0] + " or " + alts[1]
			}
			d.errorAt(b.DefRange, o.FlowRange, "Missing required argument",
				"The %q flow needs %s.", o.Flow, what)
		}
	}
	return o
}

var limitsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "rate"}, {Name: "per"}, {Name: "concurrency"}, {Name: "per_day"}, {Name: "interactive_share"},
	},
}

func (d *decoder) decodeLimits(b *hcl.Block, s *scope, l *Limits) {
	l.DeclRange = b.DefRange
	c := d.content(b.Body, limitsSchema)
	a := c.Attributes
	d.integerInt(a, "rate", s, required, 1, &l.Rate)
	d.duration(a, "per", s, required, &l.Per)
	d.integerInt(a, "concurrency", s, required, 0, &l.Concurrency)
	d.integer(a, "per_day", s, required, 1, &l.PerDay)
	if v, ok := d.value(a["interactive_share"], s, cty.Number, required); ok {
		f, _ := v.AsBigFloat().Float64()
		if f < 0 || f >= 1 {
			d.attrError(a["interactive_share"], "Invalid value",
				"interactive_share must be at least 0 and less than 1, such as 0.1 for 10%%.")
		} else {
			l.InteractiveShare = f
		}
	}
	if a["rate"] != nil && a["per"] == nil {
		d.errorAt(a["rate"].Range, b.DefRange, "Missing per", "rate needs per, its period, such as per = \"1m\".")
	}
	if a["per"] != nil && a["rate"] == nil {
		d.errorAt(a["per"].Range, b.DefRange, "Missing rate", "per is the period of rate, which is not set.")
	}
}

var pipelineSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "key", Required: true}, {Name: "when"}, {Name: "workers"}, {Name: "forget_delivered_after"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "source", LabelNames: []string{"connection"}},
		{Type: "webhook"},
		{Type: "lookup", LabelNames: []string{"name"}},
		{Type: "map"},
		{Type: "destination", LabelNames: []string{"connection"}},
		{Type: "retry"},
	},
}

func (d *decoder) decodePipeline(b *hcl.Block, s *scope) {
	d.checkName(b, 0, "pipeline")
	name := b.Labels[0]
	if prev := d.cfg.Pipeline(name); prev != nil {
		d.duplicateName("pipeline", name, b, 0, prev.NameRange)
		return
	}
	p := &Pipeline{
		Name:      name,
		Workers:   DefaultWorkers,
		Dir:       s.dir,
		DeclRange: b.DefRange,
		NameRange: nameRange(b, 0),
		Retry: Retry{Attempts: DefaultRetryAttempts, Backoff: DefaultBackoff,
			BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay},
		Destination: Destination{Operation: DefaultOperation},
	}
	d.cfg.Pipelines = append(d.cfg.Pipelines, p)
	c := d.content(b.Body, pipelineSchema)
	a := c.Attributes
	where := "in a pipeline"

	if wb := d.single(c.Blocks, "webhook", where); wb != nil {
		p.Webhook = d.decodeWebhook(wb, s)
	}
	if sb := d.single(c.Blocks, "source", where); sb != nil {
		d.decodeSource(sb, s, p)
	} else {
		d.errorAt(b.DefRange, hcl.Range{}, "Missing source block",
			"Pipeline %q needs a source block, such as source \"crm\" { ... }.", name)
	}

	var declared []string
	for _, lb := range c.Blocks {
		if lb.Type == "lookup" {
			declared = append(declared, lb.Labels[0])
		}
	}
	var before []string
	for _, lb := range c.Blocks {
		if lb.Type != "lookup" {
			continue
		}
		if l := d.decodeLookup(lb, s, p, before, declared); l != nil {
			p.Lookups = append(p.Lookups, l)
			before = append(before, l.Name)
		}
	}

	if attr := a["key"]; attr != nil {
		p.Key = attr.Expr
		d.checkExpr(attr.Expr, s, exprRules{what: "key"})
	}
	if attr := a["when"]; attr != nil {
		p.When = attr.Expr
		d.checkExpr(attr.Expr, s, exprRules{what: "when"})
	}
	if mb := d.single(c.Blocks, "map", where); mb != nil {
		attrs, diags := mb.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		for _, attr := range attrs {
			p.Map = append(p.Map, MapField{Name: attr.Name, Expr: attr.Expr, Range: attr.Range})
			d.checkExpr(attr.Expr, s, exprRules{what: "map field " + attr.Name, allowLookup: true,
				lookups: before, declared: declared})
		}
		slices.SortFunc(p.Map, func(x, y MapField) int { return cmp.Compare(x.Range.Start.Byte, y.Range.Start.Byte) })
	}
	if db := d.single(c.Blocks, "destination", where); db != nil {
		d.decodeDestination(db, s, p)
	} else {
		d.errorAt(b.DefRange, hcl.Range{}, "Missing destination block",
			"Pipeline %q needs a destination block, such as destination \"erp\" { object = \"salesOrder\" }.", name)
	}
	if rb := d.single(c.Blocks, "retry", where); rb != nil {
		d.decodeRetry(rb, s, &p.Retry)
	}
	d.integerInt(a, "workers", s, required, 1, &p.Workers)
	d.duration(a, "forget_delivered_after", s, required, &p.ForgetDeliveredAfter)
}

// connectionRef checks that a pipeline's reference names a connection.
func (d *decoder) connectionRef(name string, subject, context hcl.Range) bool {
	if d.cfg.Connection(name) != nil {
		return true
	}
	names := make([]string, len(d.cfg.Connections))
	for i, c := range d.cfg.Connections {
		names[i] = c.Name
	}
	d.errorAt(subject, context, "Unknown connection",
		"There is no connection named %q; declare it with connection \"<connector>\" %q { ... }.%s",
		name, name, didYouMean(name, names))
	return false
}

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "poll"}, {Name: "batch_size"}},
}

func (d *decoder) decodeSource(b *hcl.Block, s *scope, p *Pipeline) {
	src := &p.Source
	*src = Source{Connection: b.Labels[0], Poll: DefaultPoll, BatchSize: DefaultBatchSize,
		DeclRange: b.DefRange, NameRange: nameRange(b, 0)}
	d.connectionRef(src.Connection, src.NameRange, b.DefRange)
	c, remain, diags := b.Body.PartialContent(sourceSchema)
	d.diags = append(d.diags, diags...)
	src.Body = remain
	if c.Attributes["poll"] == nil && p.Webhook != nil {
		src.Poll = 0
	}
	d.duration(c.Attributes, "poll", s, required, &src.Poll)
	d.integerInt(c.Attributes, "batch_size", s, required, 1, &src.BatchSize)
}

var webhookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "auth", Required: true}, {Name: "secret"}, {Name: "header"}, {Name: "max_body"},
	},
}

var headerRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (d *decoder) decodeWebhook(b *hcl.Block, s *scope) *Webhook {
	w := &Webhook{Header: DefaultWebhookHeader, MaxBody: d.cfg.API.MaxBody, DeclRange: b.DefRange}
	c := d.content(b.Body, webhookSchema)
	a := c.Attributes
	authOK := d.enum(a, "auth", s, required, &w.Auth, WebhookHMAC, WebhookToken, WebhookNone)
	d.str(a, "secret", s, required|sensitive, &w.Secret)
	var header string
	if d.str(a, "header", s, required, &header) {
		if headerRE.MatchString(header) {
			w.Header = header
		} else {
			d.attrError(a["header"], "Invalid header name", "%q is not a valid HTTP header name.", header)
		}
	}
	d.size(a, "max_body", s, required, &w.MaxBody)
	if !authOK {
		return w
	}
	switch {
	case w.Auth != WebhookNone && a["secret"] == nil:
		d.errorAt(b.DefRange, a["auth"].Range, "Missing secret",
			"auth = %q needs secret, such as secret = env(\"HOOK_SECRET\").", w.Auth)
	case w.Auth == WebhookNone && a["secret"] != nil:
		d.warnAt(a["secret"].Range, b.DefRange, "Unused secret", "secret is ignored with auth = \"none\".")
	}
	return w
}

var lookupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "connection", Required: true}, {Name: "object"}, {Name: "query"}},
}

func (d *decoder) decodeLookup(b *hcl.Block, s *scope, p *Pipeline, before, declared []string) *Lookup {
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		d.errorAt(nameRange(b, 0), b.DefRange, "Invalid lookup name",
			"%q is not a valid lookup name: it is used as lookup.<name>, so use letters, digits and underscores.", name)
	}
	if prev := p.Lookup(name); prev != nil {
		d.duplicateName("lookup", name, b, 0, prev.NameRange)
		return nil
	}
	l := &Lookup{Name: name, Object: name, DeclRange: b.DefRange, NameRange: nameRange(b, 0)}
	c := d.content(b.Body, lookupSchema)
	a := c.Attributes
	if attr := a["connection"]; attr != nil {
		l.ConnectionRange = attr.Expr.Range()
		if d.str(a, "connection", s, required, &l.Connection) {
			d.connectionRef(l.Connection, attr.Expr.Range(), attr.Range)
		}
	}
	l.ObjectRange = nameRange(b, 0)
	if attr := a["object"]; attr != nil {
		l.ObjectRange = attr.Expr.Range()
		d.str(a, "object", s, required, &l.Object)
	}
	if attr := a["query"]; attr != nil {
		l.Query = attr.Expr
		d.checkExpr(attr.Expr, s, exprRules{what: fmt.Sprintf("the query of lookup %q", name),
			allowLookup: true, lookups: before, declared: declared})
	}
	return l
}

var lookupRouteSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "connection", Required: true}, {Name: "object"}, {Name: "cache"}},
}

// decodeLookupRoute decodes a top-level lookup block.
func (d *decoder) decodeLookupRoute(b *hcl.Block, s *scope) {
	d.checkName(b, 0, "lookup")
	name := b.Labels[0]
	for _, prev := range d.cfg.LookupRoutes {
		if prev.Name == name {
			d.duplicateName("lookup", name, b, 0, prev.NameRange)
			return
		}
	}
	l := &LookupRoute{Name: name, Object: name, Cache: DefaultLookupCache, DeclRange: b.DefRange,
		NameRange: nameRange(b, 0), ObjectRange: nameRange(b, 0)}
	c := d.content(b.Body, lookupRouteSchema)
	a := c.Attributes
	if attr := a["connection"]; attr != nil {
		l.ConnectionRange = attr.Expr.Range()
		if d.str(a, "connection", s, required, &l.Connection) {
			d.connectionRef(l.Connection, attr.Expr.Range(), attr.Range)
		}
	}
	if attr := a["object"]; attr != nil {
		l.ObjectRange = attr.Expr.Range()
		d.str(a, "object", s, required, &l.Object)
	}
	d.duration(a, "cache", s, required|zeroOK, &l.Cache)
	d.cfg.LookupRoutes = append(d.cfg.LookupRoutes, l)
}

var destinationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "object", Required: true}, {Name: "operation"}, {Name: "batch_size"}},
}

func (d *decoder) decodeDestination(b *hcl.Block, s *scope, p *Pipeline) {
	dst := &p.Destination
	dst.Connection, dst.BatchSize = b.Labels[0], DefaultWriteBatchSize
	dst.DeclRange, dst.NameRange = b.DefRange, nameRange(b, 0)
	d.connectionRef(dst.Connection, dst.NameRange, b.DefRange)
	c := d.content(b.Body, destinationSchema)
	a := c.Attributes
	if attr := a["object"]; attr != nil {
		dst.ObjectRange = attr.Expr.Range()
		d.str(a, "object", s, required, &dst.Object)
	}
	dst.OperationRange = b.DefRange
	if attr := a["operation"]; attr != nil {
		dst.OperationRange = attr.Expr.Range()
		d.str(a, "operation", s, required, &dst.Operation)
	}
	if d.integerInt(a, "batch_size", s, required, 1, &dst.BatchSize) && dst.BatchSize > MaxWriteBatchSize {
		d.attrError(a["batch_size"], "Invalid value", "batch_size must be at most %d, got %d: a batch is one lease and one connector call.",
			MaxWriteBatchSize, dst.BatchSize)
	}
}

var retrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "attempts"}, {Name: "backoff"}, {Name: "base_delay"}, {Name: "max_delay"},
	},
}

func (d *decoder) decodeRetry(b *hcl.Block, s *scope, r *Retry) {
	r.DeclRange = b.DefRange
	c := d.content(b.Body, retrySchema)
	a := c.Attributes
	d.integerInt(a, "attempts", s, required, 1, &r.Attempts)
	d.enum(a, "backoff", s, required, &r.Backoff, BackoffExponential, BackoffConstant)
	baseOK := d.duration(a, "base_delay", s, required, &r.BaseDelay)
	maxOK := d.duration(a, "max_delay", s, required, &r.MaxDelay)
	if (baseOK || maxOK) && r.MaxDelay < r.BaseDelay {
		attr := a["max_delay"]
		if !maxOK {
			attr = a["base_delay"]
		}
		d.attrError(attr, "Invalid value", "max_delay (%s) must not be less than base_delay (%s).", r.MaxDelay, r.BaseDelay)
	}
}
