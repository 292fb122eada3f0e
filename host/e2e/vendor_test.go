package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// vendor is a test HTTP API standing in for an ERP: it upserts records by
// key (so repeated deliveries are harmless, as with the real vendors), logs
// the time of every request, and tracks requests in flight.
type vendor struct {
	delay time.Duration

	mu       sync.Mutex
	times    []time.Time              // every write request
	records  map[string]int64         // key → newest version
	creates  map[string]int           // key → times created (must stay 1)
	writes   map[string]map[int64]int // key → version → deliveries
	inFlight int
	peak     int
	lookups  int
	srv      *httptest.Server
}

func newVendor(t *testing.T, delay time.Duration) *vendor {
	v := &vendor{delay: delay, records: map[string]int64{}, creates: map[string]int{}, writes: map[string]map[int64]int{}}
	v.srv = httptest.NewServer(v)
	t.Cleanup(v.srv.Close)
	return v
}

func (v *vendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		return
	}
	if strings.HasSuffix(r.URL.Path, "/stock") {
		v.mu.Lock()
		v.lookups++
		v.mu.Unlock()
		io.WriteString(w, `{"available":12}`)
		return
	}
	v.mu.Lock()
	v.times = append(v.times, time.Now())
	v.inFlight++
	if v.inFlight > v.peak {
		v.peak = v.inFlight
	}
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.inFlight--
		v.mu.Unlock()
	}()
	time.Sleep(v.delay)
	body, _ := io.ReadAll(r.Body)
	var batch []struct {
		Key     string `json:"key"`
		Version int64  `json:"version"`
	}
	if len(body) > 0 && body[0] == '{' {
		body = append(append([]byte{'['}, body...), ']')
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v.mu.Lock()
	created := false
	for _, rec := range batch {
		if _, ok := v.records[rec.Key]; !ok {
			v.creates[rec.Key]++
			created = true
		}
		if rec.Version >= v.records[rec.Key] {
			v.records[rec.Key] = rec.Version
		}
		if v.writes[rec.Key] == nil {
			v.writes[rec.Key] = map[int64]int{}
		}
		v.writes[rec.Key][rec.Version]++
	}
	v.mu.Unlock()
	if created {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// count returns how many distinct keys the vendor holds.
func (v *vendor) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.records)
}

// duplicates returns keys created more than once.
func (v *vendor) duplicates() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for k, n := range v.creates {
		if n > 1 {
			out = append(out, k)
		}
	}
	return out
}

// maxInWindow returns the most write requests in any sliding window of
// length per, and the request times.
func (v *vendor) maxInWindow(per time.Duration) int {
	v.mu.Lock()
	times := append([]time.Time(nil), v.times...)
	v.mu.Unlock()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	most, lo := 0, 0
	for hi := range times {
		for !times[lo].After(times[hi].Add(-per)) {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// utilisation returns how much of the limit was used while work waited:
// the mean, over the sliding windows that start at a request and end
// before the last one, of the requests in the window divided by rate.
func (v *vendor) utilisation(rate int, per time.Duration) float64 {
	v.mu.Lock()
	times := append([]time.Time(nil), v.times...)
	v.mu.Unlock()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) == 0 || times[len(times)-1].Sub(times[0]) < per {
		return 0
	}
	var sum float64
	windows, hi := 0, 0
	for lo := range times {
		end := times[lo].Add(per)
		if end.After(times[len(times)-1]) {
			break
		}
		for hi < len(times) && times[hi].Before(end) {
			hi++
		}
		sum += float64(hi-lo) / float64(rate)
		windows++
	}
	return sum / float64(windows)
}

// redeliveries returns how many record versions reached the vendor more
// than once (harmless with idempotent writes, but a cost).
func (v *vendor) redeliveries() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, versions := range v.writes {
		for _, c := range versions {
			if c > 1 {
				n++
			}
		}
	}
	return n
}
