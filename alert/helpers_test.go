package alert

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apiwatch/apiwatch/finding"
)

// received is one request a test server got.
type received struct {
	header http.Header
	body   []byte
	path   string
	at     time.Time
}

// reply is how a test server answers one request.
type reply struct {
	status int
	header map[string]string
	body   string
}

// server is a real HTTP server that records requests and answers from a
// script, then 200.
type server struct {
	*httptest.Server
	reqs chan received

	mu     sync.Mutex
	script []reply
}

func newServer(t *testing.T, script ...reply) *server {
	t.Helper()
	s := &server{reqs: make(chan received, 1000), script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.reqs <- received{header: r.Header.Clone(), body: b, path: r.URL.Path, at: time.Now()}
		s.mu.Lock()
		rp := reply{status: 200, body: "ok"}
		if len(s.script) > 0 {
			rp, s.script = s.script[0], s.script[1:]
		}
		s.mu.Unlock()
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rp.status)
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(s.Close)
	return s
}

// next returns the next request, failing the test after 5s.
func (s *server) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request within 5s")
		return received{}
	}
}

// drained returns the requests received so far; call it after Close
// drained the queues, when no more can come.
func (s *server) drained() []received {
	var out []received
	for {
		select {
		case r := <-s.reqs:
			out = append(out, r)
		default:
			return out
		}
	}
}

// hangingServer accepts requests and never answers them (until the client
// gives up or the test ends).
func hangingServer(t *testing.T) (*httptest.Server, <-chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	got := make(chan struct{}, 1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets s.Close return
	return s, got
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// logBuffer collects log lines from the workers' goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testDispatcher starts a Dispatcher logging into a buffer, on the clock
// given (nil: the real one), closed at the end of the test.
func testDispatcher(t *testing.T, cfg Config, c *clock) (*Dispatcher, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	now := time.Now
	if c != nil {
		now = c.Now
	}
	d, err := newDispatcher(cfg, options{log: zerolog.New(logs), now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Close(ctx)
	})
	return d, logs
}

// closeNow drains d and fails the test if that takes more than 5s.
func closeNow(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// fast are retry settings for tests: no real waiting.
var fast = RetryConfig{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

func webhookSink(name, url string) SinkConfig {
	return SinkConfig{Name: name, Type: Webhook, URL: url, Secret: "s3cret", Retry: fast}
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func stats(d *Dispatcher, name string) SinkStats {
	for _, s := range d.Stats() {
		if s.Name == name {
			return s
		}
	}
	return SinkStats{}
}

// sample is a finding as detect makes it.
func sample(id string, version uint64, sev finding.Severity) finding.Finding {
	t0 := time.Date(2026, 3, 2, 9, 4, 16, 0, time.UTC)
	return finding.Finding{
		ID: id, Version: version, Detector: finding.Enumeration, Kind: "sequential_ids", Severity: sev,
		Endpoint: "GET api.example.com /v1/users/{id}",
		Actor:    "a1b2c3d4e5f60718", ActorKind: "bearer",
		ClientIPs: []string{"198.51.100.7"},
		FirstSeen: finding.Time{Time: t0}, LastSeen: finding.Time{Time: t0.Add(90 * time.Second)},
		DetectedAt: finding.Time{Time: t0.Add(30 * time.Second)},
		Counts:     map[string]int64{"events": 320, "distinct_objects": 312},
		Evidence: []finding.Evidence{{Metric: "distinct_objects", Observed: 312, Baseline: 4, Floor: 50, Threshold: 50,
			Note: "ids in sequence"}},
		Summary: "actor touched 312 distinct user ids in 1m (threshold 50), 97% in sequence",
		Samples: []finding.EventRef{{Time: finding.Time{Time: t0}, ClientIP: "198.51.100.7", SrcPort: 51234,
			Path: "/v1/users/1001", Status: 404}},
	}
}

func contains(haystack []string, s string) bool {
	for _, h := range haystack {
		if strings.Contains(h, s) {
			return true
		}
	}
	return false
}
