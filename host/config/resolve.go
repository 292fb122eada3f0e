package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/weirhq/weir/sdk"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Describer describes connectors by name, typically by starting them. The
// returned Capabilities must be filled (sdk.Serve does so): a capability
// missing from the list is treated as absent.
type Describer interface {
	Describe(ctx context.Context, connector string) (sdk.Description, error)
}

// DescriberFunc adapts a function to Describer.
type DescriberFunc func(ctx context.Context, connector string) (sdk.Description, error)

// Describe calls f.
func (f DescriberFunc) Describe(ctx context.Context, connector string) (sdk.Description, error) {
	return f(ctx, connector)
}

// Load parses the files and resolves them with d: Parse then Resolve, with
// all their diagnostics in source order.
func Load(ctx context.Context, d Describer, filenames ...string) (*Config, hcl.Diagnostics) {
	cfg, diags := Parse(filenames...)
	diags = append(diags, cfg.Resolve(ctx, d)...)
	SortDiagnostics(diags)
	return cfg, diags
}

// Resolve is phase 2: it describes each connector once, decodes each
// connection's remaining attributes against the connector's Config schema
// into Connection.Settings and each pipeline source's extra attributes
// against its SourceConfig into Source.Settings, and checks capabilities,
// destination objects and operations, and lookup objects. Parts that
// failed to parse are skipped. Decoding is strict: an unknown attribute, a
// missing required one or a wrong type is an error; absent attributes get
// the schema's Default.
func (c *Config) Resolve(ctx context.Context, desc Describer) hcl.Diagnostics {
	d := &decoder{cfg: c}
	type described struct {
		desc *sdk.Description
		err  error
	}
	cache := map[string]described{}
	for _, conn := range c.Connections {
		ds, ok := cache[conn.Connector]
		if !ok {
			v, err := desc.Describe(ctx, conn.Connector)
			ds = described{desc: &v, err: err}
			cache[conn.Connector] = ds
		}
		if ds.err != nil {
			d.errorAt(conn.ConnectorRange, conn.DeclRange, "Cannot describe connector",
				"Connector %q of connection %q: %s.", conn.Connector, conn.Name, strings.TrimSuffix(ds.err.Error(), "."))
			continue
		}
		conn.Description = ds.desc
		if conn.Body != nil {
			conn.Settings = d.settings(conn.Body, ds.desc.Config, d.scope(conn.Dir), conn.Connector, conn.ConnectorRange)
		}
		if ds.desc.Local {
			if l := conn.Limits; l.DeclRange != (hcl.Range{}) {
				d.warnAt(l.DeclRange, conn.DeclRange, "Limits have no effect",
					"Connector %q reaches no vendor: it makes no requests for the limits of connection %q to count.", conn.Connector, conn.Name)
			}
			if o := conn.OAuth2; o != nil {
				d.warnAt(o.DeclRange, conn.DeclRange, "OAuth 2.0 has no effect",
					"Connector %q reaches no vendor: connection %q never uses a token.", conn.Connector, conn.Name)
			}
		}
		if o := conn.OAuth2; o != nil && ds.desc.OAuth != nil {
			flows := ds.desc.OAuth.Flows
			if o.Flow != "" && len(flows) > 0 && !slices.Contains(flows, o.Flow) {
				d.errorAt(o.FlowRange, o.DeclRange, "Unsupported OAuth 2.0 flow",
					"Connector %q supports the flows %s, not %q.", conn.Connector, orList(flows), o.Flow)
			}
			if o.TokenURL == "" {
				o.TokenURL = ds.desc.OAuth.TokenURL
			}
			if o.AuthorizationURL == "" {
				o.AuthorizationURL = ds.desc.OAuth.AuthorizationURL
			}
		}
	}
	for _, p := range c.Pipelines {
		d.resolvePipeline(p)
	}
	for _, l := range c.LookupRoutes {
		d.checkLookup(l.Connection, l.Object, l.ConnectionRange, l.ObjectRange, l.DeclRange)
	}
	SortDiagnostics(d.diags)
	return d.diags
}

// described returns a connection's description, or nil when the
// connection is unknown or could not be described (already reported).
func (d *decoder) described(name string) (*Connection, *sdk.Description) {
	conn := d.cfg.Connection(name)
	if conn == nil || conn.Description == nil {
		return nil, nil
	}
	return conn, conn.Description
}

func (d *decoder) resolvePipeline(p *Pipeline) {
	src := &p.Source
	if conn, ds := d.described(src.Connection); ds != nil {
		if src.Poll > 0 && !slices.Contains(ds.Capabilities, sdk.CapSource) {
			d.errorAt(src.NameRange, src.DeclRange, "Connection cannot be a source",
				"Connection %q uses connector %q, which cannot read records (it lacks the source capability).%s",
				conn.Name, conn.Connector, ifStr(p.Webhook != nil && slices.Contains(ds.Capabilities, sdk.CapWebhook),
					" Remove poll to receive webhooks only."))
		}
		if p.Webhook != nil && !slices.Contains(ds.Capabilities, sdk.CapWebhook) {
			d.errorAt(p.Webhook.DeclRange, src.NameRange, "Connection cannot receive webhooks",
				"Connection %q uses connector %q, which cannot decode webhooks (it lacks the webhook capability).",
				conn.Name, conn.Connector)
		}
		if src.Body != nil {
			src.Settings = d.settings(src.Body, ds.SourceConfig, d.scope(p.Dir), conn.Connector, src.NameRange)
		}
	}

	for _, l := range p.Lookups {
		d.checkLookup(l.Connection, l.Object, l.ConnectionRange, l.ObjectRange, l.DeclRange)
	}

	dst := &p.Destination
	conn, ds := d.described(dst.Connection)
	if ds == nil {
		return
	}
	if !slices.Contains(ds.Capabilities, sdk.CapDestination) {
		d.errorAt(dst.NameRange, dst.DeclRange, "Connection cannot be a destination",
			"Connection %q uses connector %q, which cannot write records (it lacks the destination capability).",
			conn.Name, conn.Connector)
		return
	}
	if dst.Object == "" {
		return
	}
	obj := findObject(ds, dst.Object)
	if obj == nil || !obj.Writable {
		d.errorAt(dst.ObjectRange, dst.DeclRange, "Unknown destination object",
			"Connector %q has no writable object %q.%s", conn.Connector, dst.Object,
			objectList(ds, func(o sdk.Object) bool { return o.Writable }, dst.Object))
		return
	}
	if len(obj.Operations) > 0 && !slices.Contains(obj.Operations, dst.Operation) {
		d.errorAt(dst.OperationRange, dst.DeclRange, "Unsupported operation",
			"Object %q of connector %q supports the operations %s, not %q.",
			obj.Name, conn.Connector, orList(obj.Operations), dst.Operation)
	}
}

// checkLookup checks that a lookup's connection answers lookups for object.
func (d *decoder) checkLookup(connection, object string, connRange, objRange, decl hcl.Range) {
	conn, ds := d.described(connection)
	if ds == nil {
		return
	}
	if !slices.Contains(ds.Capabilities, sdk.CapLookup) {
		d.errorAt(connRange, decl, "Connection cannot answer lookups",
			"Connection %q uses connector %q, which lacks the lookup capability.", conn.Name, conn.Connector)
		return
	}
	if obj := findObject(ds, object); obj == nil || !obj.Lookup {
		d.errorAt(objRange, decl, "Unknown lookup object",
			"Connector %q has no lookup object %q.%s", conn.Connector, object,
			objectList(ds, func(o sdk.Object) bool { return o.Lookup }, object))
	}
}

func ifStr(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

// findObject returns the connector's object of that name, or its
// sdk.AnyObject entry when it accepts any name.
func findObject(ds *sdk.Description, name string) *sdk.Object {
	var any *sdk.Object
	for i := range ds.Objects {
		switch ds.Objects[i].Name {
		case name:
			return &ds.Objects[i]
		case sdk.AnyObject:
			any = &ds.Objects[i]
		}
	}
	return any
}

// objectList renders " Objects are a, b." with a suggestion.
func objectList(ds *sdk.Description, keep func(sdk.Object) bool, name string) string {
	var names []string
	for _, o := range ds.Objects {
		if keep(o) {
			names = append(names, o.Name)
		}
	}
	if len(names) == 0 {
		return " It has none."
	}
	return fmt.Sprintf(" It has %s.%s", orList(names), didYouMean(name, names))
}

// settings decodes body strictly against a connector's attributes and
// returns them as a JSON object with sorted keys. at is where schema errors
// (the connector's fault) are reported.
func (d *decoder) settings(body hcl.Body, attrs []sdk.Attribute, s *scope, connector string, at hcl.Range) json.RawMessage {
	schema := &hcl.BodySchema{}
	type field struct {
		attr sdk.Attribute
		ty   cty.Type
	}
	var fields []field
	seen := map[string]bool{}
	for _, a := range attrs {
		if !hclsyntax.ValidIdentifier(a.Name) || seen[a.Name] {
			d.errorAt(at, hcl.Range{}, "Invalid connector schema",
				"Connector %q declares an invalid or duplicate attribute %q.", connector, a.Name)
			continue
		}
		seen[a.Name] = true
		ty := cty.DynamicPseudoType
		if len(bytes.TrimSpace(a.Type)) > 0 {
			var err error
			if ty, err = ctyjson.UnmarshalType(a.Type); err != nil {
				d.errorAt(at, hcl.Range{}, "Invalid connector schema",
					"Connector %q declares attribute %q with an invalid type %s: %s.", connector, a.Name, a.Type, err)
				continue
			}
		}
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
		fields = append(fields, field{attr: a, ty: ty})
	}
	content := d.content(body, schema)
	out := map[string]json.RawMessage{}
	for _, f := range fields {
		a := f.attr
		if attr := content.Attributes[a.Name]; attr != nil {
			fl := flags(0)
			if a.Required {
				fl |= required
			}
			if a.Sensitive {
				fl |= sensitive
			}
			n := len(d.diags)
			v, ok := d.value(attr, s, f.ty, fl)
			if ok {
				raw, err := ctyjson.Marshal(v, v.Type())
				if err != nil {
					d.attrError(attr, "Invalid value", "%s cannot be written as JSON: %s.", a.Name, err)
				} else {
					out[a.Name] = raw
				}
				continue
			}
			if d.diags[n:].HasErrors() {
				continue
			}
			// null: as if absent.
		}
		if len(a.Default) == 0 || string(bytes.TrimSpace(a.Default)) == "null" {
			continue
		}
		raw, err := defaultJSON(a.Default, f.ty)
		if err != nil {
			d.errorAt(at, hcl.Range{}, "Invalid connector schema",
				"Connector %q declares attribute %q with an invalid default %s: %s.", connector, a.Name, a.Default, err)
			continue
		}
		out[a.Name] = raw
	}
	return encodeObject(out)
}

// defaultJSON checks a schema default against ty and returns it compact.
func defaultJSON(def json.RawMessage, ty cty.Type) (json.RawMessage, error) {
	if ty.HasDynamicTypes() {
		var buf bytes.Buffer
		if err := json.Compact(&buf, def); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	v, err := ctyjson.Unmarshal(def, ty)
	if err != nil {
		return nil, err
	}
	return ctyjson.Marshal(v, ty)
}

// encodeObject writes a JSON object with sorted keys.
func encodeObject(m map[string]json.RawMessage) json.RawMessage {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}
