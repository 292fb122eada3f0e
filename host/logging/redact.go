package logging

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
)

// Redacted is what Redact writes in place of a secret.
const Redacted = "[REDACTED]"

// MinSecretLen is the length of the shortest secret Redact replaces: shorter
// values ("on", "1") would mangle ordinary text and are not worth hiding.
const MinSecretLen = 4

// Redact returns a handler that replaces every occurrence of any secret of
// at least MinSecretLen bytes with Redacted, in the message and in every
// string-valued attribute (recursively in groups; errors, Stringers and other
// values are checked in their printed form), before passing the record to h.
//
// secrets is called for every record, so secrets learnt while running (a
// refreshed token) are covered from then on; it must be cheap and safe for
// concurrent use. Attributes attached with WithAttrs are redacted with the
// secrets known when WithAttrs is called.
func Redact(h slog.Handler, secrets func() []string) slog.Handler {
	return &redactHandler{next: h, secrets: &secretSet{list: secrets}}
}

// redactHandler is the slog.Handler returned by Redact.
type redactHandler struct {
	next    slog.Handler
	secrets *secretSet
}

// Enabled reports whether the wrapped handler handles level.
func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle redacts r and passes it on.
func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	rep := h.secrets.replacer()
	if rep == nil {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, rep.Replace(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(rep, a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts attrs with the current secrets and attaches them.
func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if rep := h.secrets.replacer(); rep != nil {
		red := make([]slog.Attr, len(attrs))
		for i, a := range attrs {
			red[i] = redactAttr(rep, a)
		}
		attrs = red
	}
	return &redactHandler{next: h.next.WithAttrs(attrs), secrets: h.secrets}
}

// WithGroup opens a group on the wrapped handler.
func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

// redactAttr returns a with every secret replaced. Values without secrets
// keep their kind; a non-string value holding a secret becomes a string.
func redactAttr(rep *strings.Replacer, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, rep.Replace(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]slog.Attr, len(group))
		for i, g := range group {
			out[i] = redactAttr(rep, g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		var printed string
		if b, ok := v.Any().([]byte); ok {
			printed = string(b)
		} else {
			printed = fmt.Sprint(v.Any())
		}
		if red := rep.Replace(printed); red != printed {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// secretSet turns the caller's list of secrets into a replacer, rebuilt only
// when the list changes.
type secretSet struct {
	list  func() []string
	cache atomic.Pointer[secretCache]
}

// secretCache is a replacer and the list it was built from.
type secretCache struct {
	secrets []string
	rep     *strings.Replacer // nil when no secret is long enough
}

// replacer returns the replacer for the current secrets, nil when there is
// nothing to redact.
func (s *secretSet) replacer() *strings.Replacer {
	if s.list == nil {
		return nil
	}
	cur := s.list()
	if c := s.cache.Load(); c != nil && slices.Equal(c.secrets, cur) {
		return c.rep
	}
	c := &secretCache{secrets: slices.Clone(cur), rep: newReplacer(cur)}
	s.cache.Store(c)
	return c.rep
}

// newReplacer builds a replacer for secrets, longest first so that a secret
// containing another is replaced whole.
func newReplacer(secrets []string) *strings.Replacer {
	keep := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if len(s) >= MinSecretLen {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	slices.SortFunc(keep, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	keep = slices.Compact(keep)
	pairs := make([]string, 0, 2*len(keep))
	for _, s := range keep {
		pairs = append(pairs, s, Redacted)
	}
	return strings.NewReplacer(pairs...)
}
