package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/weirhq/weir/sdk"
)

// AckBody is the answer Salesforce expects to an Outbound Message: without
// it, Salesforce sends the notifications again.
const AckBody = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>
`

// soapEnvelope is an Outbound Message.
type soapEnvelope struct {
	Body struct {
		Notifications *struct {
			OrganizationID string             `xml:"OrganizationId"`
			ActionID       string             `xml:"ActionId"`
			Notification   []soapNotification `xml:"Notification"`
		} `xml:"notifications"`
	} `xml:"Body"`
}

type soapNotification struct {
	ID      string     `xml:"Id"`
	SObject soapObject `xml:"sObject"`
}

// soapObject is a notified record: its type (xsi:type "sf:Order") and its
// fields, in order.
type soapObject struct {
	Type   string
	Fields []soapField
}

type soapField struct {
	Name  string
	Value string
	Nil   bool
}

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// UnmarshalXML reads the type attribute and every child element.
func (o *soapObject) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for _, a := range start.Attr {
		if a.Name.Local == "type" && (a.Name.Space == xsiNS || a.Name.Space == "xsi") {
			_, o.Type, _ = strings.Cut(a.Value, ":")
			if o.Type == "" {
				o.Type = a.Value
			}
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			f := soapField{Name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Local == "nil" && a.Value == "true" {
					f.Nil = true
				}
			}
			var text struct {
				Value string `xml:",chardata"`
			}
			if err := d.DecodeElement(&text, &t); err != nil {
				return err
			}
			f.Value = text.Value
			o.Fields = append(o.Fields, f)
		case xml.EndElement:
			return nil
		}
	}
}

func (o *soapObject) get(name string) (string, bool) {
	for _, f := range o.Fields {
		if strings.EqualFold(f.Name, name) && !f.Nil {
			return f.Value, true
		}
	}
	return "", false
}

// DecodeWebhook decodes an Outbound Message (the SOAP notifications
// Salesforce POSTs when a watched record changes) into records, and
// answers the Ack Salesforce expects once they are stored.
//
// The message is accepted only with the source's outbound_secret in the
// URL query (secret_param, "secret" by default) and only from the
// connection's organization (organization_id, else the org of the token's
// identity URL). With fetch (the default) each notified record is read
// through the API with its related records, so webhook and polled records
// look alike; otherwise the notified fields are the payload, typed by the
// object's describe. A record notified twice in one message is one
// record; notifications repeated across messages carry the same key and
// version, which the host stores once.
func (c *connector) DecodeWebhook(ctx context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	cfg, a, err := c.state()
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	s, err := parseSettings(req.Source)
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	if req.Method != "" && req.Method != http.MethodPost {
		return sdk.WebhookResponse{Status: http.StatusMethodNotAllowed, Reject: "Outbound Messages are POSTed"}, nil
	}
	q, _ := url.ParseQuery(req.Query)
	if s.OutboundSecret == "" {
		return sdk.WebhookResponse{Status: http.StatusUnauthorized, Reject: "the source sets no outbound_secret: Outbound Messages are refused"}, nil
	}
	if subtle.ConstantTimeCompare([]byte(q.Get(s.SecretParam)), []byte(s.OutboundSecret)) != 1 {
		return sdk.WebhookResponse{Status: http.StatusUnauthorized, Reject: "missing or wrong secret in the URL query parameter " + s.SecretParam}, nil
	}
	var env soapEnvelope
	if err := xml.NewDecoder(bytes.NewReader(req.Body)).Decode(&env); err != nil || env.Body.Notifications == nil {
		reason := "not an Outbound Message: no notifications element"
		if err != nil {
			reason = "not an Outbound Message: " + err.Error()
		}
		return sdk.WebhookResponse{Reject: reason}, nil
	}
	n := env.Body.Notifications
	org, err := c.organization(ctx, cfg, a)
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	if len(n.OrganizationID) < 15 || len(org) < 15 || n.OrganizationID[:15] != org[:15] {
		return sdk.WebhookResponse{Status: http.StatusForbidden, Reject: fmt.Sprintf("Outbound Message from organization %q, not this connection's", n.OrganizationID)}, nil
	}
	// One record per sObject Id: the notification with the newest
	// SystemModstamp wins.
	type notified struct {
		obj   *soapObject
		stamp string
	}
	var order []string
	byID := map[string]*notified{}
	for i := range n.Notification {
		o := &n.Notification[i].SObject
		id, _ := o.get("Id")
		if id == "" || o.Type == "" || !nameRE.MatchString(o.Type) {
			return sdk.WebhookResponse{Reject: fmt.Sprintf("notification %d: no sObject type or Id", i)}, nil
		}
		stamp, _ := o.get("SystemModstamp")
		if prev := byID[id]; prev != nil {
			if stampAfter(stamp, prev.stamp) {
				byID[id] = &notified{o, stamp}
			}
			continue
		}
		byID[id] = &notified{o, stamp}
		order = append(order, id)
	}
	var recs []sdk.Record
	if s.Fetch {
		recs, err = c.fetchNotified(ctx, a, s, order, func(id string) string { return byID[id].obj.Type })
	} else {
		for _, id := range order {
			var rec sdk.Record
			rec, err = c.notifiedRecord(ctx, a, s, byID[id].obj)
			if err != nil {
				break
			}
			recs = append(recs, rec)
		}
	}
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	return sdk.WebhookResponse{
		Records: recs,
		Status:  http.StatusOK,
		Headers: map[string][]string{"Content-Type": {"text/xml; charset=utf-8"}},
		Body:    []byte(AckBody),
	}, nil
}

func stampAfter(a, b string) bool {
	ta, oka := parseSFTime(a)
	tb, okb := parseSFTime(b)
	return oka && (!okb || ta.After(tb))
}

// organization returns the org Outbound Messages must come from.
func (c *connector) organization(ctx context.Context, cfg config, a *api) (string, error) {
	if cfg.OrganizationID != "" {
		return cfg.OrganizationID, nil
	}
	tok, err := a.host.Token(ctx, false)
	if err != nil {
		return "", err
	}
	// The identity URL: https://login.salesforce.com/id/<org>/<user>.
	parts := strings.Split(strings.TrimSuffix(tok.Extra["id"], "/"), "/")
	if len(parts) >= 3 && parts[len(parts)-3] == "id" {
		return parts[len(parts)-2], nil
	}
	return "", sdk.Permanent("NO_ORGANIZATION_ID", "set organization_id: the token has no identity URL to take it from", "organization_id")
}

// fetchNotified reads the notified records through the API, grouped by
// object, with queryAll so that records deleted since come as deletes.
func (c *connector) fetchNotified(ctx context.Context, a *api, s settings, ids []string, typeOf func(string) string) ([]sdk.Record, error) {
	byType := map[string][]string{}
	var types []string
	for _, id := range ids {
		t := typeOf(id)
		if byType[t] == nil {
			types = append(types, t)
		}
		byType[t] = append(byType[t], id)
	}
	found := map[string]sdk.Record{}
	for _, typ := range types {
		ts := s
		ts.Object = typ
		if !strings.EqualFold(typ, s.Object) {
			ts.Fields, ts.KeyField = nil, "Id"
		}
		sel, err := c.selectFor(ctx, a, typ, ts.Fields, ts.Related, []string{"Id", "SystemModstamp", "IsDeleted", ts.KeyField}, sdk.PriorityBulk)
		if err != nil {
			return nil, err
		}
		quoted := make([]string, len(byType[typ]))
		for i, id := range byType[typ] {
			quoted[i] = quote(id)
		}
		soql := fmt.Sprintf("SELECT %s FROM %s WHERE Id IN (%s)", sel, typ, strings.Join(quoted, ", "))
		raws, err := c.query(ctx, a, soql, true, 0, 0, sdk.PriorityBulk)
		if err != nil {
			return nil, err
		}
		for _, raw := range raws {
			rec, _, id, err := c.toRecord(ctx, a, ts, sel, raw)
			if err != nil {
				return nil, err
			}
			found[id] = rec
		}
	}
	var out []sdk.Record
	for _, id := range ids {
		if rec, ok := found[id]; ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

// notifiedRecord turns a notification's fields into a record, typed by
// the object's describe.
func (c *connector) notifiedRecord(ctx context.Context, a *api, s settings, o *soapObject) (sdk.Record, error) {
	d, err := c.describe(ctx, a, o.Type, sdk.PriorityBulk)
	if err != nil {
		return sdk.Record{}, err
	}
	m := map[string]any{}
	for _, f := range o.Fields {
		name := f.Name
		typ := d.fieldType(name)
		if f.Nil {
			m[name] = nil
			continue
		}
		switch typ {
		case "boolean":
			m[name] = f.Value == "true"
		case "double", "currency", "percent", "int", "long":
			var n json.Number
			if json.Unmarshal([]byte(f.Value), &n) == nil {
				m[name] = n
			} else {
				m[name] = f.Value
			}
		case "datetime":
			if t, ok := parseSFTime(f.Value); ok {
				m[name] = t.UTC().Format("2006-01-02T15:04:05.000-0700")
			} else {
				m[name] = f.Value
			}
		default:
			m[name] = f.Value
		}
	}
	raw, err := encode(m)
	if err != nil {
		return sdk.Record{}, err
	}
	ts := s
	ts.Object = o.Type
	rec, _, _, err := c.toRecord(ctx, a, ts, selection{}, raw)
	if err != nil {
		return sdk.Record{}, err
	}
	rec.Object = o.Type
	return rec, nil
}
