package storetest

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/weirhq/weir/host/store"
)

func testKV(h *harness) {
	const ns = "tokens"
	get := func(ns, key string) ([]byte, bool) {
		h.t.Helper()
		v, err := h.s.Get(h.ctx, ns, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false
		}
		if err != nil {
			h.t.Fatalf("Get(%s, %s): %v", ns, key, err)
		}
		return v, true
	}
	if _, ok := get(ns, "crm"); ok {
		h.t.Fatalf("Get of a missing key found a value")
	}
	if err := h.s.Put(h.ctx, ns, "crm", []byte("v1")); err != nil {
		h.t.Fatalf("Put: %v", err)
	}
	if v, ok := get(ns, "crm"); !ok || string(v) != "v1" {
		h.t.Fatalf("Get = %q, %v; want v1", v, ok)
	}
	if _, ok := get("xrefs", "crm"); ok {
		h.t.Fatalf("namespaces are not separate")
	}
	if err := h.s.Put(h.ctx, ns, "empty", nil); err != nil {
		h.t.Fatalf("Put(nil): %v", err)
	}
	if v, ok := get(ns, "empty"); !ok || len(v) != 0 {
		h.t.Fatalf("Get of an empty value = %q, %v; want present and empty", v, ok)
	}
	if err := h.s.Delete(h.ctx, ns, "crm"); err != nil {
		h.t.Fatalf("Delete: %v", err)
	}
	if _, ok := get(ns, "crm"); ok {
		h.t.Fatalf("Get after Delete found a value")
	}
	if err := h.s.Delete(h.ctx, ns, "crm"); err != nil {
		h.t.Fatalf("Delete of a missing key: %v", err)
	}
	for _, bad := range [][2]string{{"", "k"}, {ns, ""}} {
		if err := h.s.Put(h.ctx, bad[0], bad[1], []byte("x")); !errors.Is(err, store.ErrInvalid) {
			h.t.Errorf("Put(%q, %q): err = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}

	// Compare-and-swap, one step after the other on key "lock".
	b := func(s string) []byte { return []byte(s) }
	steps := []struct {
		name     string
		old, new []byte
		swapped  bool
		after    []byte // nil: absent
	}{
		{"create when absent", nil, b("a"), true, b("a")},
		{"create when present", nil, b("b"), false, b("a")},
		{"wrong old value", b("x"), b("b"), false, b("a")},
		{"swap", b("a"), b("b"), true, b("b")},
		{"delete", b("b"), nil, true, nil},
		{"old value on absent key", b("b"), b("c"), false, nil},
		{"empty old value on absent key", []byte{}, b("c"), false, nil},
		{"create empty", nil, []byte{}, true, []byte{}},
		{"empty old value matches empty", []byte{}, b("d"), true, b("d")},
	}
	for _, st := range steps {
		ok, err := h.s.CompareAndSwap(h.ctx, "locks", "lock", st.old, st.new)
		if err != nil || ok != st.swapped {
			h.t.Fatalf("%s: CompareAndSwap = %v, %v; want %v", st.name, ok, err, st.swapped)
		}
		v, present := get("locks", "lock")
		if present != (st.after != nil) || string(v) != string(st.after) {
			h.t.Fatalf("%s: value = %q (present %v), want %q (present %v)", st.name, v, present, st.after, st.after != nil)
		}
	}
}

func testKVConcurrentCAS(h *harness) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					old, err := h.s.Get(h.ctx, "counters", "n")
					if errors.Is(err, store.ErrNotFound) {
						old, err = nil, nil
					}
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(string(old))
					ok, err := h.s.CompareAndSwap(h.ctx, "counters", "n", old, []byte(strconv.Itoa(n+1)))
					if err != nil {
						errs <- err
						return
					}
					if ok {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.t.Fatal(err)
	}
	v, err := h.s.Get(h.ctx, "counters", "n")
	if err != nil || string(v) != strconv.Itoa(workers*each) {
		h.t.Fatalf("counter = %q, %v; want %d", v, err, workers*each)
	}
}

func testKVSetNX(h *harness) {
	const ns = "locks"
	get := func(key string) (string, bool) {
		h.t.Helper()
		v, err := h.s.Get(h.ctx, ns, key)
		if errors.Is(err, store.ErrNotFound) {
			return "", false
		}
		if err != nil {
			h.t.Fatalf("Get(%s): %v", key, err)
		}
		return string(v), true
	}
	setnx := func(key, val string, ttl time.Duration, want bool) {
		h.t.Helper()
		ok, err := h.s.SetNX(h.ctx, ns, key, []byte(val), ttl)
		if err != nil || ok != want {
			h.t.Fatalf("SetNX(%s, %q, %s) = %v, %v; want %v", key, val, ttl, ok, err, want)
		}
	}
	// waitGone polls until the key is absent and checks that it did not
	// expire before ttl had passed since setAt (taken before the set): the
	// test's time after a Get is an upper bound of the store's time in it.
	waitGone := func(key string, setAt time.Time, ttl time.Duration) {
		h.t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, ok := get(key)
			after := time.Now()
			if !ok {
				if after.Before(setAt.Add(ttl - clockSlack)) {
					h.t.Fatalf("%s was gone at %v, before its ttl (set at %v + %s)", key, after, setAt, ttl)
				}
				return
			}
			if after.After(deadline) {
				h.t.Fatalf("%s did not expire within 5s", key)
			}
			time.Sleep(3 * time.Millisecond)
		}
	}

	setnx("forever", "v1", 0, true)
	setnx("forever", "v2", 0, false)
	setnx("forever", "v3", time.Minute, false)
	if v, ok := get("forever"); !ok || v != "v1" {
		h.t.Fatalf("Get = %q, %v; want v1", v, ok)
	}
	setnx("empty", "", 0, true)
	if v, ok := get("empty"); !ok || v != "" {
		h.t.Fatalf("Get of an empty SetNX value = %q, %v; want present and empty", v, ok)
	}

	// A lock with a ttl: held until it expires, then absent for everything.
	const ttl = 80 * time.Millisecond
	setAt := time.Now()
	setnx("lock", "owner-1", ttl, true)
	setnx("lock", "owner-2", ttl, false)
	if v, ok := get("lock"); !ok || v != "owner-1" {
		h.t.Fatalf("Get = %q, %v; want owner-1", v, ok)
	}
	waitGone("lock", setAt, ttl)
	if ok, err := h.s.CompareAndSwap(h.ctx, ns, "lock", []byte("owner-1"), []byte("x")); err != nil || ok {
		h.t.Fatalf("CompareAndSwap of an expired value = %v, %v; want no swap", ok, err)
	}
	if err := h.s.Delete(h.ctx, ns, "lock"); err != nil {
		h.t.Fatalf("Delete of an expired value: %v", err)
	}
	setnx("lock", "owner-2", 0, true)
	if v, ok := get("lock"); !ok || v != "owner-2" {
		h.t.Fatalf("Get = %q, %v; want owner-2", v, ok)
	}

	// An expired value is absent for a creating CompareAndSwap too.
	setAt = time.Now()
	setnx("cas", "a", ttl, true)
	waitGone("cas", setAt, ttl)
	if ok, err := h.s.CompareAndSwap(h.ctx, ns, "cas", nil, []byte("b")); err != nil || !ok {
		h.t.Fatalf("creating CompareAndSwap over an expired value = %v, %v; want a swap", ok, err)
	}

	// CompareAndSwap keeps the expiry; Put clears it.
	setAt = time.Now()
	setnx("renamed", "a", ttl, true)
	if ok, err := h.s.CompareAndSwap(h.ctx, ns, "renamed", []byte("a"), []byte("b")); err != nil || !ok {
		h.t.Fatalf("CompareAndSwap = %v, %v; want a swap", ok, err)
	}
	if v, ok := get("renamed"); !ok || v != "b" {
		h.t.Fatalf("Get = %q, %v; want b", v, ok)
	}
	setnx("put", "a", ttl, true)
	if err := h.s.Put(h.ctx, ns, "put", []byte("kept")); err != nil {
		h.t.Fatalf("Put: %v", err)
	}
	waitGone("renamed", setAt, ttl)
	time.Sleep(ttl)
	if v, ok := get("put"); !ok || v != "kept" {
		h.t.Fatalf("a value Put over an expiring one = %q, %v; want kept for good", v, ok)
	}

	if _, err := h.s.SetNX(h.ctx, ns, "k", []byte("x"), -time.Second); !errors.Is(err, store.ErrInvalid) {
		h.t.Errorf("SetNX with a negative ttl: err = %v, want ErrInvalid", err)
	}
	for _, bad := range [][2]string{{"", "k"}, {ns, ""}} {
		if _, err := h.s.SetNX(h.ctx, bad[0], bad[1], []byte("x"), 0); !errors.Is(err, store.ErrInvalid) {
			h.t.Errorf("SetNX(%q, %q): err = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}
