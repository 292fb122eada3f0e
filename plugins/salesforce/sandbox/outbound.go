package sandbox

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// AckBody is the answer Salesforce expects to an outbound message.
const AckBody = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>
`

// notification is one queued outbound notification.
type notification struct {
	ID       string    `json:"id"`
	Action   string    `json:"action"`
	Endpoint string    `json:"endpoint"`
	Object   string    `json:"object"`
	RecordID string    `json:"record_id"`
	Created  time.Time `json:"created"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next_attempt"`
	def      int
	fields   [][2]string // name, value ("\x00" for nil)
}

// Delivery is one attempt to deliver an outbound message.
type Delivery struct {
	// Time is when the message was sent, to Endpoint.
	Time     time.Time `json:"time"`
	Endpoint string    `json:"endpoint"`
	// Notifications and Records are the ids of the notifications sent and
	// of their records.
	Notifications []string `json:"notifications"`
	Records       []string `json:"records"`
	// Status is the endpoint's answer (0 when it did not answer); Acked
	// says whether it was the Ack.
	Status int  `json:"status"`
	Acked  bool `json:"acked"`
	// Error says why the delivery failed.
	Error string `json:"error,omitempty"`
}

// outbound queues notifications and delivers them in the background.
type outbound struct {
	s *Server

	mu         sync.Mutex
	defs       []OutboundMessage
	queue      []*notification
	deliveries []Delivery
	seq        int64
	started    bool
	closed     bool
	wake       chan struct{}
	stop       chan struct{}
	done       chan struct{}
}

func newOutbound(s *Server) *outbound {
	return &outbound{s: s, defs: slices.Clone(s.opts.Outbound), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// SetOutbound replaces the outbound message definitions.
func (s *Server) SetOutbound(defs []OutboundMessage) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	s.out.defs = slices.Clone(defs)
}

// Deliveries returns the outbound message delivery attempts so far.
func (s *Server) Deliveries() []Delivery {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return slices.Clone(s.out.deliveries)
}

// PendingNotifications returns how many notifications await an Ack.
func (s *Server) PendingNotifications() int {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return len(s.out.queue)
}

// notify queues notifications for changed records that outbound message
// definitions watch.
func (o *outbound) notify(changed []*record) {
	o.mu.Lock()
	defs := slices.Clone(o.defs)
	o.mu.Unlock()
	if len(defs) == 0 || len(changed) == 0 {
		return
	}
	s := o.s
	s.mu.Lock()
	now := s.now()
	var add []*notification
	for i, def := range defs {
		obj := s.schema.object(def.Object)
		if obj == nil {
			continue
		}
		var where predicate
		if def.Where != "" {
			q, err := parseSOQL("SELECT Id FROM " + obj.Name + " WHERE " + def.Where)
			if err == nil {
				if c, err := s.db.compile(q, nil); err == nil {
					where = c.where
				}
			}
			if where == nil {
				continue
			}
		}
		for _, r := range changed {
			if r.obj != obj || r.deleted() || where != nil && !where(r, now) {
				continue
			}
			n := &notification{Action: makeID("04k", int64(i+1)), Endpoint: def.Endpoint, Object: obj.Name, RecordID: r.id(), Created: now, Next: now, def: i}
			names := def.Fields
			if len(names) == 0 {
				for _, f := range obj.order {
					names = append(names, f.Name)
				}
			}
			n.fields = append(n.fields, [2]string{"Id", r.id()})
			for _, name := range names {
				f := obj.field(name)
				if f == nil || f.Name == "Id" {
					continue
				}
				n.fields = append(n.fields, [2]string{f.Name, soapValue(r.f[f.Name])})
			}
			add = append(add, n)
		}
	}
	s.mu.Unlock()
	if len(add) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	for _, n := range add {
		o.seq++
		n.ID = makeID("04l", o.seq)
		o.queue = append(o.queue, n)
	}
	if !o.started {
		o.started = true
		go o.run()
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// soapValue writes a value as the SOAP API does ("\x00" for nil).
func soapValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "\x00"
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

func (o *outbound) close() {
	o.mu.Lock()
	started := o.started && !o.closed
	o.closed = true
	o.mu.Unlock()
	if started {
		close(o.stop)
		<-o.done
	}
}

// run delivers due notifications, one message per endpoint and action,
// retrying with backoff until acknowledged.
func (o *outbound) run() {
	defer close(o.done)
	for {
		o.mu.Lock()
		now := o.s.now()
		var batch []*notification
		next := time.Time{}
		for _, n := range o.queue {
			if !n.Next.After(now) && len(batch) < o.s.opts.OutboundBatch && (len(batch) == 0 || batch[0].def == n.def && batch[0].Endpoint == n.Endpoint) {
				batch = append(batch, n)
			} else if next.IsZero() || n.Next.Before(next) {
				next = n.Next
			}
		}
		o.mu.Unlock()
		if len(batch) > 0 {
			o.deliver(batch)
			continue
		}
		var timer <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(max(next.Sub(now), time.Millisecond))
			timer = t.C
		}
		select {
		case <-o.stop:
			return
		case <-o.wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (o *outbound) deliver(batch []*notification) {
	body := o.message(batch)
	d := Delivery{Time: o.s.now(), Endpoint: batch[0].Endpoint}
	for _, n := range batch {
		d.Notifications = append(d.Notifications, n.ID)
		d.Records = append(d.Records, n.RecordID)
	}
	req, err := http.NewRequest(http.MethodPost, batch[0].Endpoint, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `""`)
		req.Header.Set("User-Agent", "Salesforce Outbound Messaging (Weir sandbox)")
		var resp *http.Response
		resp, err = o.s.opts.HTTPClient.Do(req)
		if err == nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			d.Status = resp.StatusCode
			d.Acked = resp.StatusCode == http.StatusOK && acked(data)
			if !d.Acked {
				d.Error = "no Ack: " + truncate(strings.TrimSpace(string(data)), 200)
			}
		}
	}
	if err != nil {
		d.Error = err.Error()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deliveries = append(o.deliveries, d)
	if len(o.deliveries) > 1000 {
		o.deliveries = o.deliveries[len(o.deliveries)-1000:]
	}
	now := o.s.now()
	done := map[*notification]bool{}
	for _, n := range batch {
		n.Attempts++
		delay := o.s.opts.OutboundRetry << min(n.Attempts-1, 20)
		if delay > o.s.opts.OutboundMaxRetry || delay <= 0 {
			delay = o.s.opts.OutboundMaxRetry
		}
		n.Next = now.Add(delay)
		if d.Acked || now.Sub(n.Created) > o.s.opts.OutboundGiveUp {
			done[n] = true
		}
	}
	o.queue = slices.DeleteFunc(o.queue, func(n *notification) bool { return done[n] })
}

// acked reports whether a response body is a SOAP notificationsResponse
// with Ack true.
func acked(body []byte) bool {
	var env struct {
		Body struct {
			Response struct {
				Ack string `xml:"Ack"`
			} `xml:"notificationsResponse"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		return false
	}
	return strings.TrimSpace(env.Body.Response.Ack) == "true"
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// message writes the SOAP notifications message.
func (o *outbound) message(batch []*notification) []byte {
	s := o.s
	s.mu.Lock()
	base := s.base
	org := s.opts.OrgID
	s.mu.Unlock()
	session := ""
	o.mu.Lock()
	def := OutboundMessage{}
	if batch[0].def < len(o.defs) {
		def = o.defs[batch[0].def]
	}
	o.mu.Unlock()
	if def.SendSessionID {
		session, _ = s.Token("")
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\n")
	b.WriteString(" <soapenv:Body>\n")
	b.WriteString(`  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">` + "\n")
	fmt.Fprintf(&b, "   <OrganizationId>%s</OrganizationId>\n", org)
	fmt.Fprintf(&b, "   <ActionId>%s</ActionId>\n", batch[0].Action)
	if session == "" {
		b.WriteString("   <SessionId xsi:nil=\"true\"/>\n")
	} else {
		fmt.Fprintf(&b, "   <SessionId>%s</SessionId>\n", xmlEscape(session))
	}
	fmt.Fprintf(&b, "   <EnterpriseUrl>%s/services/Soap/c/%s/%s</EnterpriseUrl>\n", xmlEscape(base), DefaultAPIVersion, org[:15])
	fmt.Fprintf(&b, "   <PartnerUrl>%s/services/Soap/u/%s/%s</PartnerUrl>\n", xmlEscape(base), DefaultAPIVersion, org[:15])
	for _, n := range batch {
		b.WriteString("   <Notification>\n")
		fmt.Fprintf(&b, "    <Id>%s</Id>\n", n.ID)
		fmt.Fprintf(&b, "    <sObject xsi:type=\"sf:%s\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n", n.Object)
		for _, f := range n.fields {
			if f[1] == "\x00" {
				fmt.Fprintf(&b, "     <sf:%s xsi:nil=\"true\"/>\n", f[0])
				continue
			}
			fmt.Fprintf(&b, "     <sf:%s>%s</sf:%s>\n", f[0], xmlEscape(f[1]), f[0])
		}
		b.WriteString("    </sObject>\n")
		b.WriteString("   </Notification>\n")
	}
	b.WriteString("  </notifications>\n")
	b.WriteString(" </soapenv:Body>\n")
	b.WriteString("</soapenv:Envelope>\n")
	return []byte(b.String())
}

// pendingView lists the queue for the control API.
func (o *outbound) pendingView() []notification {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]notification, len(o.queue))
	for i, n := range o.queue {
		out[i] = *n
	}
	return out
}
