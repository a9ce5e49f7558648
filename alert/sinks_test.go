package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/secret"
)

func TestSlackMessage(t *testing.T) {
	srv := newServer(t)
	d, _ := testDispatcher(t, Config{
		GrafanaURL: "https://grafana.example.com/",
		Sinks:      []SinkConfig{{Name: "slack", Type: Slack, WebhookURL: secret.String(srv.URL + "/services/T000/B000/XXXX"), Retry: fast}},
	}, nil)
	f := sample("f1", 3, finding.High)
	d.Notify(f)
	r := srv.next(t)
	if r.path != "/services/T000/B000/XXXX" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("posted to %s as %s", r.path, r.header.Get("Content-Type"))
	}
	var m struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
			} `json:"text"`
			Fields []struct {
				Type, Text string
			} `json:"fields"`
			Elements []struct {
				Type, Text string
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if !strings.Contains(m.Text, "HIGH") || !strings.Contains(m.Text, f.Endpoint) {
		t.Errorf("notification text %q lacks severity or endpoint", m.Text)
	}
	// Every text of the message, by kind.
	var texts, fields []string
	for _, b := range m.Blocks {
		switch b.Type {
		case "header", "section", "context":
		default:
			t.Errorf("unexpected block type %q", b.Type)
		}
		if b.Text != nil {
			if b.Type == "header" && b.Text.Type != "plain_text" || b.Type == "section" && b.Text.Type != "mrkdwn" {
				t.Errorf("%s block with %s text", b.Type, b.Text.Type)
			}
			texts = append(texts, b.Text.Text)
		}
		for _, x := range b.Fields {
			fields = append(fields, x.Text)
		}
		for _, x := range b.Elements {
			texts = append(texts, x.Text)
		}
	}
	if m.Blocks[0].Type != "header" || !strings.Contains(m.Blocks[0].Text.Text, "HIGH") {
		t.Errorf("first block %+v: want a header with the severity", m.Blocks[0])
	}
	link := "https://grafana.example.com/d/apiwatch-investigation/finding-investigation?var-finding=f1"
	for _, want := range []string{
		"*Severity*\n:large_orange_circle: high",
		"*Endpoint*\n`GET api.example.com /v1/users/{id}`",
		"*Actor*\n`a1b2c3d4e5f60718` (bearer)",
		"*Detector*\nenumeration (sequential_ids)",
		"*Counts*\ndistinct_objects 312 · events 320",
	} {
		if !contains(fields, want) {
			t.Errorf("no field %q in %q", want, fields)
		}
	}
	for _, want := range []string{
		f.Summary,
		"• distinct_objects: 312 observed vs threshold 50 (baseline 4, floor 50) — ids in sequence",
		"<" + link + "|",
		"`f1` · version 3",
	} {
		if !contains(texts, want) {
			t.Errorf("no text with %q in %q", want, texts)
		}
	}

	d.Resolve("f1")
	var rs slackMessage
	if err := json.Unmarshal(srv.next(t).body, &rs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rs.Text, "Resolved: [high] enumeration") || len(rs.Blocks) == 0 || rs.Blocks[0].Text == nil {
		t.Fatalf("resolve message %+v", rs)
	}
	if b := rs.Blocks[0].Text.Text; !strings.Contains(b, "*Resolved*") || !strings.Contains(b, "`"+f.Endpoint+"`") ||
		!strings.Contains(b, "<"+link+"|") {
		t.Errorf("resolve message %q", b)
	}
}

func TestSlackEscapesMarkup(t *testing.T) {
	f := sample("f1", 1, finding.Low)
	f.Summary = "a <b> & <!channel>"
	b, err := slackFormat{}.body(&job{action: trigger, f: &f})
	if err != nil {
		t.Fatal(err)
	}
	var m slackMessage
	json.Unmarshal(b, &m)
	if got := m.Blocks[1].Text.Text; got != "a &lt;b&gt; &amp; &lt;!channel&gt;" {
		t.Errorf("summary section %q", got)
	}
	for _, blk := range m.Blocks {
		if blk.Text != nil && strings.Contains(blk.Text.Text, "investigation board") {
			t.Errorf("a link without grafana_url: %q", blk.Text.Text)
		}
	}
}

// TestSlackLimits: long findings fit Block Kit's limits, cut on rune
// boundaries.
func TestSlackLimits(t *testing.T) {
	f := sample("f1", 1, finding.Critical)
	f.Summary = strings.Repeat("é", 5000)
	f.Endpoint = "GET api.example.com /" + strings.Repeat("x", 300)
	f.Actor, f.ActorKind, f.Subject = "", "", "username 3f2a"
	f.ClientIPs = []string{"a", "b", "c", "d", "e", "f", "g"}
	for i := range 7 {
		f.Evidence = append(f.Evidence, finding.Evidence{Metric: fmt.Sprint("m", i)})
	}
	b, err := slackFormat{}.body(&job{action: trigger, f: &f})
	if err != nil {
		t.Fatal(err)
	}
	var m slackMessage
	json.Unmarshal(b, &m)
	all := []string{m.Text}
	for _, blk := range m.Blocks {
		if blk.Text != nil {
			max := slackSectionMax
			if blk.Type == "header" {
				max = slackHeaderMax
			}
			if len(blk.Text.Text) > max || !utf8.ValidString(blk.Text.Text) {
				t.Errorf("%s block: %d bytes, valid UTF-8 %v", blk.Type, len(blk.Text.Text), utf8.ValidString(blk.Text.Text))
			}
			all = append(all, blk.Text.Text)
		}
		for _, x := range blk.Fields {
			all = append(all, x.Text)
		}
	}
	for _, want := range []string{"*Actor*\nusername 3f2a", "a, b, c, d, e (+2)", "• and 3 more", "…"} {
		if !contains(all, want) {
			t.Errorf("no %q in %q", want, all)
		}
	}
	// "é" is 2 bytes, "…" 3.
	for n, want := range map[int]string{0: "", 2: "", 3: "…", 4: "a…", 5: "a…", 6: "aé…", 7: "aééé", 8: "aééé"} {
		if got := truncate("aééé", n); got != want {
			t.Errorf("truncate(aééé, %d) = %q, want %q", n, got, want)
		}
	}
	if got := truncate("abcdef", 5); got != "ab…" {
		t.Errorf("truncate: %q", got)
	}
}

// TestPagerDutyTriggerThenResolve: one incident, one PagerDuty incident:
// trigger then resolve under the finding's id.
func TestPagerDutyTriggerThenResolve(t *testing.T) {
	srv := newServer(t, reply{status: 202, body: `{"status":"success","message":"Event processed","dedup_key":"f1"}`})
	d, _ := testDispatcher(t, Config{
		GrafanaURL: "https://grafana.example.com",
		Sinks:      []SinkConfig{{Name: "pd", Type: PagerDuty, URL: srv.URL + "/v2/enqueue", RoutingKey: "R0UT1NGKEY", Retry: fast}},
	}, nil)
	f := sample("f1", 1, finding.Critical)
	d.Notify(f)
	d.Notify(sample("f1", 2, finding.Critical)) // an update: no second trigger
	d.Resolve("f1")
	closeNow(t, d)
	reqs := srv.drained()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want trigger and resolve", len(reqs))
	}
	type event struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     *struct {
			Summary, Source, Severity, Timestamp, Component, Group, Class string
			CustomDetails                                                 finding.Finding `json:"custom_details"`
		} `json:"payload"`
		Client    string `json:"client"`
		ClientURL string `json:"client_url"`
		Links     []struct{ Href, Text string }
	}
	var tr, rs event
	if err := json.Unmarshal(reqs[0].body, &tr); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(reqs[1].body, &rs); err != nil {
		t.Fatal(err)
	}
	if reqs[0].path != "/v2/enqueue" {
		t.Errorf("posted to %s", reqs[0].path)
	}
	if tr.RoutingKey != "R0UT1NGKEY" || tr.EventAction != "trigger" || tr.DedupKey != "f1" {
		t.Errorf("trigger %+v", tr)
	}
	p := tr.Payload
	if p == nil {
		t.Fatalf("trigger without payload: %s", reqs[0].body)
	}
	if p.Severity != "critical" || p.Source != "api.example.com" || p.Component != f.Endpoint ||
		p.Group != "enumeration" || p.Class != "sequential_ids" || p.Timestamp != "2026-03-02T09:04:46.000000Z" {
		t.Errorf("payload %+v", p)
	}
	if want := "[critical] enumeration/sequential_ids on GET api.example.com /v1/users/{id}: " + f.Summary; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	wantF, _ := json.Marshal(f)
	gotF, _ := json.Marshal(p.CustomDetails)
	if string(gotF) != string(wantF) {
		t.Errorf("custom_details\n%s\nwant the finding\n%s", gotF, wantF)
	}
	link := "https://grafana.example.com/d/apiwatch-investigation/finding-investigation?var-finding=f1"
	if tr.Client != "apiwatch" || tr.ClientURL != link || len(tr.Links) != 1 || tr.Links[0].Href != link {
		t.Errorf("client %q %q, links %+v", tr.Client, tr.ClientURL, tr.Links)
	}
	if rs.EventAction != "resolve" || rs.DedupKey != tr.DedupKey || rs.RoutingKey != "R0UT1NGKEY" || rs.Payload != nil {
		t.Errorf("resolve %s", reqs[1].body)
	}
	if s := stats(d, "pd"); s.Sent != 2 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestPagerDutySeverities(t *testing.T) {
	for sev, want := range map[finding.Severity]string{finding.Low: "info", finding.Medium: "warning",
		finding.High: "error", finding.Critical: "critical"} {
		f := sample("f", 1, sev)
		b, _ := pagerDutyFormat{routingKey: "k"}.body(&job{action: trigger, f: &f})
		var e pdEvent
		json.Unmarshal(b, &e)
		if e.Payload.Severity != want {
			t.Errorf("%s → %q, want %q", sev, e.Payload.Severity, want)
		}
	}
}

func TestWebhookSigned(t *testing.T) {
	srv := newServer(t)
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL+"/hooks/apiwatch")}}, nil)
	f := sample("f1", 1, finding.Medium)
	d.Notify(f)
	r := srv.next(t)
	// The body is the finding.
	var got finding.Finding
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(f)
	var wantF finding.Finding
	json.Unmarshal(want, &wantF)
	if !reflect.DeepEqual(got, wantF) || string(r.body) != string(want) {
		t.Errorf("body\n%s\nwant\n%s", r.body, want)
	}
	if r.header.Get(EventHeader) != "trigger" {
		t.Errorf("%s: %q", EventHeader, r.header.Get(EventHeader))
	}
	sig := r.header.Get(SignatureHeader)
	if ts := r.header.Get(TimestampHeader); !strings.HasPrefix(sig, "t="+ts+",v1=") {
		t.Errorf("signature %q, timestamp %q", sig, ts)
	}
	if err := Verify("s3cret", sig, r.body, time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	tampered := []byte(strings.Replace(string(r.body), `"severity":"medium"`, `"severity":"low"`, 1))
	if string(tampered) == string(r.body) {
		t.Fatal("tampering did not change the body")
	}
	if err := Verify("s3cret", sig, tampered, time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("tampered body: %v", err)
	}
	if err := Verify("other", sig, r.body, time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("wrong secret: %v", err)
	}
	d.Resolve("f1")
	r = srv.next(t)
	if r.header.Get(EventHeader) != "resolve" || string(r.body) != string(want) {
		t.Errorf("resolve: %s %s", r.header.Get(EventHeader), r.body)
	}
	if err := Verify("s3cret", r.header.Get(SignatureHeader), r.body, time.Minute); err != nil {
		t.Errorf("resolve: Verify: %v", err)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"f1"}`)
	now := time.Now()
	f := func(header string, body []byte, tolerance time.Duration, want error) {
		t.Helper()
		if err := Verify("k", header, body, tolerance); !errors.Is(err, want) {
			t.Errorf("Verify(%q, %s, %s) = %v, want %v", header, body, tolerance, err, want)
		}
	}
	good := Sign("k", body, now)
	f(good, body, time.Minute, nil)
	f(" "+strings.ReplaceAll(good, ",", " , ")+" ", body, time.Minute, nil)
	// Several signatures (a secret being rotated): one matching is enough.
	f("t="+strconv.FormatInt(now.Unix(), 10)+",v1=00ff,"+strings.Split(good, ",")[1], body, time.Minute, nil)
	f(good, []byte(`{"id":"f2"}`), time.Minute, ErrSignatureMismatch)
	old := Sign("k", body, now.Add(-10*time.Minute))
	f(old, body, 5*time.Minute, ErrSignatureExpired)
	f(old, body, 0, nil) // no age check
	f(Sign("k", body, now.Add(10*time.Minute)), body, 5*time.Minute, ErrSignatureExpired)
	// The timestamp is signed: moving it breaks the signature.
	moved := "t=" + strconv.FormatInt(now.Unix()+1, 10) + "," + strings.Split(good, ",")[1]
	f(moved, body, time.Minute, ErrSignatureMismatch)
	for _, h := range []string{"", "v1=abcd", "t=123", "t=x,v1=abcd", "t=123,v1=zz"} {
		f(h, body, time.Minute, ErrSignatureMissing)
	}
}

func TestRetryAfter429(t *testing.T) {
	srv := newServer(t, reply{status: 429, header: map[string]string{"Retry-After": "1"}, body: "rate_limited"})
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	first, second := srv.next(t), srv.next(t)
	if gap := second.at.Sub(first.at); gap < time.Second {
		t.Errorf("retried after %s; Retry-After asked for 1s", gap)
	}
	if string(first.body) != string(second.body) {
		t.Error("the retry sent another body")
	}
	closeNow(t, d)
	if s := stats(d, "hook"); s.Sent != 1 || s.Retried != 1 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestRetry503(t *testing.T) {
	srv := newServer(t, reply{status: 503}, reply{status: 502})
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	closeNow(t, d)
	if n := len(srv.drained()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if s := stats(d, "hook"); s.Sent != 1 || s.Retried != 2 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestNoRetryOn400(t *testing.T) {
	srv := newServer(t, reply{status: 400, body: "invalid_payload"})
	d, logs := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	srv.next(t)
	waitFor(t, "the failure", func() bool { return stats(d, "hook").Failed == 1 })
	if !strings.Contains(logs.String(), "HTTP 400: invalid_payload") {
		t.Errorf("log lacks the answer:\n%s", logs)
	}
	// The alert was not delivered, so the next update tries again.
	d.Notify(sample("f1", 2, finding.High))
	closeNow(t, d)
	if n := len(srv.drained()); n != 1 {
		t.Errorf("%d more requests, want the update's only", n)
	}
	if s := stats(d, "hook"); s.Sent != 1 || s.Retried != 0 || s.Failed != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestNoRedirect: a redirect is a config to fix, not retried nor followed.
func TestNoRedirect(t *testing.T) {
	target := newServer(t)
	srv := newServer(t, reply{status: 302, header: map[string]string{"Location": target.URL}})
	d, logs := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	closeNow(t, d)
	if n, m := len(srv.drained()), len(target.drained()); n != 1 || m != 0 {
		t.Errorf("%d requests, %d to the redirect's target; want 1, 0", n, m)
	}
	if s := stats(d, "hook"); s.Failed != 1 || s.Retried != 0 || !strings.Contains(logs.String(), "redirected") {
		t.Errorf("stats %+v, logs:\n%s", s, logs)
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := newServer(t, reply{status: 500}, reply{status: 500}, reply{status: 500}, reply{status: 500}, reply{status: 500})
	d, _ := testDispatcher(t, Config{Sinks: []SinkConfig{webhookSink("hook", srv.URL)}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	closeNow(t, d)
	if n := len(srv.drained()); n != fast.MaxAttempts {
		t.Errorf("%d requests, want %d", n, fast.MaxAttempts)
	}
	if s := stats(d, "hook"); s.Sent != 0 || s.Retried != uint64(fast.MaxAttempts-1) || s.Failed != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestSecretsNotLogged: a Slack URL's path and a routing key echoed by the
// sink stay out of the logs.
func TestSecretsNotLogged(t *testing.T) {
	srv := newServer(t, reply{status: 400, body: `{"errors":["routing key R0UT1NGKEY is not valid"]}`})
	d, logs := testDispatcher(t, Config{Sinks: []SinkConfig{
		{Name: "slack", Type: Slack, WebhookURL: secret.String("http://" + closedPort(t) + "/services/T000/B000/SECRETPATH"),
			Retry: RetryConfig{MaxAttempts: 2, MinBackoff: time.Millisecond}},
		{Name: "pd", Type: PagerDuty, URL: srv.URL, RoutingKey: "R0UT1NGKEY", Retry: fast},
	}}, nil)
	d.Notify(sample("f1", 1, finding.High))
	closeNow(t, d)
	if s := stats(d, "slack"); s.Failed != 1 || s.Retried != 1 {
		t.Errorf("slack stats %+v", s)
	}
	out := logs.String()
	for _, leak := range []string{"SECRETPATH", "T000", "R0UT1NGKEY"} {
		if strings.Contains(out, leak) {
			t.Errorf("log shows %q:\n%s", leak, out)
		}
	}
	for _, want := range []string{"connection refused", "/[redacted]", "routing key [redacted] is not valid"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestBackoff(t *testing.T) {
	r := RetryConfig{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 5 * time.Second}
	for attempt, full := range []time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 6: time.Second, 60: time.Second} {
		if full == 0 {
			continue
		}
		for range 50 {
			if w := backoff(r, attempt, 0); w < full/2 || w > full {
				t.Fatalf("attempt %d: wait %s, want in [%s, %s]", attempt, w, full/2, full)
			}
		}
	}
	if w := backoff(r, 1, 3*time.Second); w != 3*time.Second {
		t.Errorf("Retry-After 3s: wait %s", w)
	}
	if w := backoff(r, 1, time.Hour); w != 5*time.Second {
		t.Errorf("Retry-After 1h: wait %s, want max_retry_after", w)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "7": 7 * time.Second, " 2 ": 2 * time.Second, "-1": 0, "soon": 0,
		"Mon, 02 Mar 2026 09:00:30 GMT": 30 * time.Second, "Mon, 02 Mar 2026 08:00:00 GMT": 0} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", v, got, want)
		}
	}
}
