package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/finding"
)

// ids returns the finding id and event of each request, in order.
func ids(t *testing.T, reqs []received) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		var f finding.Finding
		if err := json.Unmarshal(r.body, &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:v%d:%s:%s", f.ID, f.Version, f.Severity, r.header.Get(EventHeader)))
	}
	return out
}

// TestDedup: updates of an incident alert again only when its severity
// rises.
func TestDedup(t *testing.T) {
	srv := newServer(t)
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	d.Notify(sample("f1", 1, finding.Medium))
	d.Notify(sample("f1", 2, finding.Medium)) // a version bump: no alert
	d.Notify(sample("f1", 3, finding.High))   // severity rose: alert
	d.Notify(sample("f1", 4, finding.High))
	d.Notify(sample("f1", 2, finding.Critical)) // an older version arriving late: ignored
	d.Notify(sample("f2", 1, finding.Medium))   // another incident
	closeNow(t, d)
	got := ids(t, srv.drained())
	want := []string{"f1:v1:medium:trigger", "f1:v3:high:trigger", "f2:v1:medium:trigger"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// TestNotifyCopies: the detector keeps changing its finding after Notify.
func TestNotifyCopies(t *testing.T) {
	srv := newServer(t)
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	f := sample("f1", 1, finding.High)
	want, _ := json.Marshal(f)
	d.Notify(f)
	f.Counts["events"] = 999
	f.Evidence[0].Observed = 999
	f.ClientIPs[0] = "203.0.113.9"
	if r := srv.next(t); string(r.body) != string(want) {
		t.Errorf("sent\n%s\nwant what Notify was given\n%s", r.body, want)
	}
}

// TestRouting: routes by detector, severity and endpoint pick the sinks,
// and dedup is per sink: a finding rising into a route alerts that
// route's sink then.
func TestRouting(t *testing.T) {
	page, chat, admin := newServer(t), newServer(t), newServer(t)
	d, _ := testDispatcher(t, Config{
		Sinks: []SinkConfig{webhookSink("page", page.URL), webhookSink("chat", chat.URL), webhookSink("admin", admin.URL)},
		Routes: []Route{
			{Detectors: []string{finding.CredentialStuffing}, MinSeverity: finding.High, Sinks: []string{"page"}},
			{MinSeverity: finding.Critical, Sinks: []string{"page"}},
			{MinSeverity: finding.Medium, Sinks: []string{"chat"}},
			{Endpoints: []string{"* api.example.com /admin/*", "POST api.example.com /v1/login"}, Sinks: []string{"admin", "chat"}},
		},
	}, nil)
	mk := func(id string, detector string, sev finding.Severity, endpoint string) finding.Finding {
		f := sample(id, 1, sev)
		f.Detector, f.Endpoint = detector, endpoint
		return f
	}
	users := "GET api.example.com /v1/users/{id}"
	d.Notify(mk("low", finding.Enumeration, finding.Low, users))                                           // nowhere
	d.Notify(mk("medium", finding.Enumeration, finding.Medium, users))                                     // chat
	d.Notify(mk("stuffing-med", finding.CredentialStuffing, finding.Medium, users))                        // chat
	d.Notify(mk("stuffing-high", finding.CredentialStuffing, finding.High, users))                         // page, chat
	d.Notify(mk("crit", finding.DataExposure, finding.Critical, users))                                    // page, chat
	d.Notify(mk("admin", finding.Enumeration, finding.Low, "DELETE api.example.com /admin/users/{id}"))    // admin, chat
	d.Notify(mk("login", finding.Enumeration, finding.Low, "POST api.example.com /v1/login"))              // admin, chat
	d.Notify(mk("not-admin", finding.Enumeration, finding.Low, "GET api.example.com /v1/admin/users"))     // nowhere
	d.Notify(mk("other-host", finding.Enumeration, finding.Low, "GET api2.example.com /admin/users/{id}")) // nowhere
	// The medium enumeration rises to critical: page alerted for the first
	// time, chat again.
	up := mk("medium", finding.Enumeration, finding.Critical, users)
	up.Version = 2
	d.Notify(up)
	closeNow(t, d)
	for _, c := range []struct {
		srv  *server
		want []string
	}{
		{page, []string{"stuffing-high:v1:high:trigger", "crit:v1:critical:trigger", "medium:v2:critical:trigger"}},
		{chat, []string{"medium:v1:medium:trigger", "stuffing-med:v1:medium:trigger", "stuffing-high:v1:high:trigger",
			"crit:v1:critical:trigger", "admin:v1:low:trigger", "login:v1:low:trigger", "medium:v2:critical:trigger"}},
		{admin, []string{"admin:v1:low:trigger", "login:v1:low:trigger"}},
	} {
		if got := ids(t, c.srv.drained()); !slices.Equal(got, c.want) {
			t.Errorf("%s got %q\nwant %q", c.srv.URL, got, c.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"*", "GET a /x", true},
		{"GET a /x", "GET a /x", true},
		{"GET a /x", "GET a /xy", false},
		{"GET a /v1/*", "GET a /v1/users/{id}", true},
		{"GET a /v1/*", "GET a /v2/users", false},
		{"* a /admin/*", "DELETE a /admin/u/{id}", true},
		{"* a /admin/*", "DELETE b /admin/u", false},
		{"*/{id}", "GET a /users/{id}", true},
		{"*/{id}", "GET a /users/{id}/x", false},
		{"*a*b*c", "xxaxxbxxbxc", true},
		{"*a*b*c", "xxaxxbxxbx", false},
		{"**", "x", true},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// TestRateLimit: alerts over a sink's rate are dropped and counted; the
// incident's next update alerts once the bucket refills.
func TestRateLimit(t *testing.T) {
	srv := newServer(t)
	c := &clock{t: epoch}
	d, logs := testDispatcher(t, Config{Sinks: []SinkConfig{
		{Name: "hook", Type: Webhook, URL: srv.URL, Secret: "k", RatePerMinute: 3, Retry: fast},
	}}, c)
	for i := range 5 {
		d.Notify(sample(fmt.Sprint("f", i), 1, finding.High))
	}
	if s := stats(d, "hook"); s.RateLimited != 2 || s.Dropped != 2 {
		t.Errorf("after 5 alerts at once: %+v, want 2 rate limited", s)
	}
	c.Add(10 * time.Second) // half a token
	d.Notify(sample("f3", 2, finding.High))
	c.Add(10 * time.Second)                 // one token
	d.Notify(sample("f3", 3, finding.High)) // f3 still un-alerted: now it goes
	d.Notify(sample("f4", 2, finding.High)) // no token left
	// Resolves are never limited.
	for i := range 4 {
		d.Resolve(fmt.Sprint("f", i))
	}
	closeNow(t, d)
	got := ids(t, srv.drained())
	want := []string{"f0:v1:high:trigger", "f1:v1:high:trigger", "f2:v1:high:trigger", "f3:v3:high:trigger",
		"f0:v1:high:resolve", "f1:v1:high:resolve", "f2:v1:high:resolve", "f3:v3:high:resolve"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %q\nwant %q", got, want)
	}
	if s := stats(d, "hook"); s.RateLimited != 4 || s.Sent != 8 {
		t.Errorf("stats %+v", s)
	}
	// A log line at most every 10s, counting the ones held back: at 0s
	// (f3; f4 held back), 10s (f3, earlier 1), 20s (f4).
	if n := strings.Count(logs.String(), "rate limit dropped"); n != 3 || !strings.Contains(logs.String(), `"earlier":1`) {
		t.Errorf("%d rate-limit log lines, want 3 (one per 10s):\n%s", n, logs)
	}
}

// TestQuietResolve: an incident without updates for resolve_after is
// resolved by the Dispatcher's clock; updates keep it open.
func TestQuietResolve(t *testing.T) {
	srv := newServer(t)
	c := &clock{t: epoch}
	d, _ := testDispatcher(t, Config{ResolveAfter: time.Minute,
		Sinks: []SinkConfig{{Name: "pd", Type: PagerDuty, URL: srv.URL, RoutingKey: "key", Retry: fast}}}, c)
	d.Notify(sample("f1", 1, finding.High))
	c.Add(40 * time.Second)
	d.Notify(sample("f1", 2, finding.High))
	c.Add(40 * time.Second)
	d.sweep(c.Now()) // 40s quiet
	if d.Open() != 1 {
		t.Fatal("resolved while updates kept coming")
	}
	c.Add(21 * time.Second)
	d.sweep(c.Now()) // 61s quiet
	if d.Open() != 0 {
		t.Fatal("not resolved after a minute without updates")
	}
	// Later versions open a new alert under the same dedup_key.
	d.Notify(sample("f1", 3, finding.High))
	closeNow(t, d)
	var got []string
	for _, r := range srv.drained() {
		var e pdEvent
		json.Unmarshal(r.body, &e)
		got = append(got, e.EventAction+":"+e.DedupKey)
	}
	if want := []string{"trigger:f1", "resolve:f1", "trigger:f1"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// TestQuietResolveClock: the resolve loop runs on its own.
func TestQuietResolveClock(t *testing.T) {
	srv := newServer(t)
	d, _ := testDispatcher(t, Config{ResolveAfter: 20 * time.Millisecond,
		Sinks: []SinkConfig{{Name: "pd", Type: PagerDuty, URL: srv.URL, RoutingKey: "key", Retry: fast}}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	for _, want := range []string{"trigger", "resolve"} {
		var e pdEvent
		json.Unmarshal(srv.next(t).body, &e)
		if e.EventAction != want || e.DedupKey != "f1" {
			t.Errorf("got %s %s, want %s f1", e.EventAction, e.DedupKey, want)
		}
	}
}

func TestMaxOpen(t *testing.T) {
	srv := newServer(t)
	c := &clock{t: epoch}
	d, _ := testDispatcher(t, Config{MaxOpen: 2, Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, c)
	d.Notify(sample("f1", 1, finding.High))
	c.Add(time.Second)
	d.Notify(sample("f2", 1, finding.High))
	c.Add(time.Second)
	d.Notify(sample("f1", 2, finding.High)) // f2 is now the one updated longest ago
	d.Notify(sample("f3", 1, finding.High))
	if d.Open() != 2 {
		t.Errorf("%d open, want 2", d.Open())
	}
	closeNow(t, d)
	want := []string{"f1:v1:high:trigger", "f2:v1:high:trigger", "f3:v1:high:trigger", "f2:v1:high:resolve"}
	if got := ids(t, srv.drained()); !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// TestSkipResolve: a sink told not to get resolves gets none.
func TestSkipResolve(t *testing.T) {
	srv := newServer(t)
	sc := webhookSink("hook", srv.URL)
	sc.SkipResolve = true
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{sc}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	d.Resolve("f1")
	d.Resolve("never-seen")
	closeNow(t, d)
	if got := ids(t, srv.drained()); !slices.Equal(got, []string{"f1:v1:high:trigger"}) {
		t.Errorf("sent %q", got)
	}
}

// TestNotifyNeverBlocks: a sink that never answers, or is not there, does
// not hold up the detector: 10000 Notify calls return while the sink
// hangs, what does not fit in the queue is counted, and Close returns when
// its context ends.
func TestNotifyNeverBlocks(t *testing.T) {
	hang, got := hangingServer(t)
	for name, url := range map[string]string{
		"no answer":   hang.URL,
		"closed port": "http://" + closedPort(t),
	} {
		t.Run(name, func(t *testing.T) {
			// Settings under which any waiting for the sink would last
			// an hour: the deadlines below catch it.
			d, logs := testDispatcher(t, Config{Sinks: []SinkConfig{{
				Name: "dead", Type: Webhook, URL: url, Secret: "k", QueueSize: 100, RatePerMinute: -1,
				Timeout: time.Hour, Retry: RetryConfig{MinBackoff: time.Hour, MaxBackoff: time.Hour},
			}}}, nil)
			const n = 10000
			var calls atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range n {
					d.Notify(sample(fmt.Sprint("f", i), 1, finding.High))
					calls.Add(1)
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Notify blocked: %d of %d calls returned in 10s", calls.Load(), n)
			}
			if name == "no answer" {
				select {
				case <-got: // the worker is stuck in a request
				case <-time.After(5 * time.Second):
					t.Fatal("the hanging server got no request")
				}
			} else {
				waitFor(t, "the worker to wait before its retry", func() bool { return stats(d, "dead").Retried == 1 })
			}
			s := stats(d, "dead")
			if s.Sent != 0 || s.QueueFull < n-101 || s.QueueFull+uint64(s.Queued) > n {
				t.Errorf("stats %+v: want all but at most 101 dropped as queue full", s)
			}
			// Resolve does not block either; it queues a resolve for each
			// incident alerted on.
			open := uint64(d.Open())
			resolved := make(chan struct{})
			go func() {
				for i := range n {
					d.Resolve(fmt.Sprint("f", i))
				}
				close(resolved)
			}()
			select {
			case <-resolved:
			case <-time.After(10 * time.Second):
				t.Fatal("Resolve blocked")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- d.Close(ctx) }()
			select {
			case err := <-closed:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Close: %v, want the context's deadline", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return when its context ended")
			}
			// Once the workers are gone, every message is accounted for.
			waitFor(t, "the workers to stop", func() bool {
				s := stats(d, "dead")
				return s.Queued == 0 && s.Sent+s.Failed+s.Dropped == n+open
			})
			s = stats(d, "dead")
			if s.Failed != 1 || s.Shutdown == 0 {
				t.Errorf("stats %+v: want the request in flight failed and the queue dropped at shutdown", s)
			}
			if !strings.Contains(logs.String(), "sink queue full") {
				t.Errorf("no log of the drops")
			}
		})
	}
}

// TestCloseDrains: Close with time enough sends everything queued.
func TestCloseDrains(t *testing.T) {
	srv := newServer(t, reply{status: 503}, reply{status: 503})
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	for i := range 20 {
		d.Notify(sample(fmt.Sprint("f", i), 1, finding.High))
	}
	closeNow(t, d)
	if s := stats(d, "hook"); s.Sent != 20 || s.Retried != 2 || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}
	d.Notify(sample("late", 1, finding.High)) // after Close: ignored
	if s := stats(d, "hook"); s.Sent+s.Dropped+uint64(s.Queued) != 20 {
		t.Errorf("Notify after Close: %+v", s)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestConfigExample: the README's example parses, and New reads its
// secrets from the files and variables it names.
func TestConfigExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Config.*?```yaml\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("no yaml example under ## Config in README.md")
	}
	cfg, err := ParseConfig(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sinks) != 3 || len(cfg.Routes) != 4 || cfg.Routes[0].MinSeverity != finding.High ||
		cfg.ResolveAfter != 15*time.Minute || cfg.Sinks[2].Retry.MaxBackoff != 2*time.Minute {
		t.Fatalf("parsed %+v", cfg)
	}
	dir := t.TempDir()
	for i := range cfg.Sinks {
		s := &cfg.Sinks[i]
		for _, f := range []*string{&s.WebhookURLFile, &s.SecretFile} {
			if *f != "" {
				*f = filepath.Join(dir, filepath.Base(*f))
				os.WriteFile(*f, []byte("https://hooks.slack.com/services/T/B/X\n"), 0o600)
			}
		}
	}
	t.Setenv("APIWATCH_PAGERDUTY_ROUTING_KEY", "0123456789abcdef0123456789abcdef")
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	pd := d.sinks[1]
	if pd.url != DefaultPagerDutyURL || pd.format.(pagerDutyFormat).routingKey != "0123456789abcdef0123456789abcdef" {
		t.Errorf("pagerduty sink %s %+v", pd.url, pd.format)
	}
	if s := d.sinks[0]; s.url != "https://hooks.slack.com/services/T/B/X" || s.cfg.RatePerMinute != 20 || s.bucket.burst != 5 {
		t.Errorf("slack sink %+v", s.cfg)
	}
	if s := d.sinks[1]; s.cfg.QueueSize != DefaultQueueSize || s.cfg.Retry.MaxAttempts != DefaultMaxAttempts {
		t.Errorf("defaults not applied: %+v", s.cfg)
	}
	inline, err := ParseConfig([]byte("sinks:\n  - {name: p, type: pagerduty, routing_key: R0UT1NGKEY}\n"))
	if err != nil || inline.Sinks[0].RoutingKey.Reveal() != "R0UT1NGKEY" {
		t.Errorf("inline secret: %v %q", err, inline.Sinks[0].RoutingKey.Reveal())
	}
	if p := fmt.Sprintf("%v %+v %#v", inline, inline, inline); strings.Contains(p, "R0UT1NGKEY") {
		t.Errorf("printing the config shows the secret: %s", p)
	}
	if _, err := ParseConfig([]byte("sinks:\n  - name: x\n    webhook: y\n")); err == nil || !strings.Contains(err.Error(), "webhook") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	const slackURL = "https://hooks.slack.com/services/T000/B000/SECRETPATH"
	t.Setenv("EMPTY_VAR", "")
	missing := filepath.Join(t.TempDir(), "missing")
	f := func(cfg Config, want string) {
		t.Helper()
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one saying %q", err, want)
			return
		}
		if strings.Contains(err.Error(), "SECRETPATH") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	slack := SinkConfig{Name: "s", Type: Slack, WebhookURL: slackURL}
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack}}}, "webhook_url is missing")
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack, WebhookURL: slackURL, WebhookURLEnv: "X"}}}, "only one of webhook_url")
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack, WebhookURLEnv: "EMPTY_VAR"}}}, "EMPTY_VAR is not set")
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack, WebhookURLFile: missing}}}, "does not exist")
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack, WebhookURL: "ftp://x/SECRETPATH"}}}, "not an absolute http")
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack, WebhookURL: "https://x/%zzSECRETPATH"}}}, "not an absolute http")
	f(Config{Sinks: []SinkConfig{{Name: "s", Type: Slack, WebhookURL: slackURL, URL: slackURL}}}, "not url")
	f(Config{Sinks: []SinkConfig{{Name: "p", Type: PagerDuty}}}, "routing_key is missing")
	f(Config{Sinks: []SinkConfig{{Name: "w", Type: Webhook, Secret: "k"}}}, "needs url")
	f(Config{Sinks: []SinkConfig{{Name: "w", Type: Webhook, URL: "http://x"}}}, "secret is missing")
	f(Config{Sinks: []SinkConfig{{Name: "w", Type: Webhook, URL: "http://x", Secret: "k", RoutingKey: "r"}}}, "routing_key is for pagerduty")
	f(Config{Sinks: []SinkConfig{{Name: "w", Type: "email"}}}, `type "email"`)
	f(Config{Sinks: []SinkConfig{slack, slack}}, "used twice")
	f(Config{Sinks: []SinkConfig{{Type: Slack}}}, "name is empty")
	f(Config{Sinks: []SinkConfig{slack}, Routes: []Route{{Sinks: []string{"nope"}}}}, `no sink is named "nope"`)
	f(Config{Sinks: []SinkConfig{slack}, Routes: []Route{{Detectors: []string{"enumerate"}, Sinks: []string{"s"}}}}, `unknown detector "enumerate"`)
	f(Config{Sinks: []SinkConfig{slack}, Routes: []Route{{}}}, "no sinks")
	f(Config{GrafanaURL: "grafana:3000"}, "grafana_url")
	if _, err := ParseConfig([]byte("routes:\n  - min_severity: severe\n")); err == nil || !strings.Contains(err.Error(), "severe") {
		t.Errorf("bad severity: %v", err)
	}
}
