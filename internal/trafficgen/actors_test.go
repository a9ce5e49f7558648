package trafficgen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/identity"
	"github.com/apiwatch/apiwatch/parse/normalize"
	"github.com/apiwatch/apiwatch/pipeline"
)

// shortConfig squeezes an actor scenario into three minutes of capture,
// where every episode and heavy user still has requests.
func shortConfig(scenario string) Config {
	cfg := DefaultConfig()
	cfg.Scenario, cfg.Duration = scenario, 3*time.Minute
	return cfg
}

// ev is what the tests read of one API event.
type ev struct {
	t                  time.Time
	ip, endpoint, path string
	status             uint32
	ssn, pii           bool // the response carried an SSN; an email or phone
	records            int64
	anonymous          bool // no credentials: apiwatch fell back to the address
	user               string
	outcome            event.LoginOutcome
}

// analyze runs a capture through apiwatch's own pipeline, analysing every
// response body.
func analyze(t *testing.T, name string) []ev {
	t.Helper()
	src, err := capture.OpenFile(name)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := normalize.New(normalize.Config{AnalyzeEvery: 1, Identity: identity.New(identity.Config{Secret: []byte("trafficgen")})})
	var evs []ev
	// One worker handles every transaction on the reading goroutine.
	_, err = pipeline.Run(context.Background(), pipeline.Config{Workers: 1}, []capture.Source{src}, []string{name},
		func(int) parse.Handler {
			return parse.HandlerFunc(func(tx *parse.Transaction) { evs = append(evs, evOf(n.Event(tx))) })
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.t.Compare(b.t) })
	return evs
}

func evOf(e *event.APIEvent) ev {
	v := ev{t: time.Unix(0, e.RequestStartNs).UTC(), ip: e.ClientIp, endpoint: e.GetRequest().GetEndpoint(),
		path: e.GetRequest().GetPath(), status: e.GetResponse().GetStatus(), records: e.GetResponse().GetShape().GetRecords(),
		anonymous: e.GetActor().GetKind() == event.ActorKind_ACTOR_KIND_CLIENT_IP,
		user:      e.GetLogin().GetUsernameHash(), outcome: e.GetLogin().GetOutcome()}
	for _, s := range e.GetResponse().GetSensitive() {
		switch s.Class {
		case event.SensitiveClass_SENSITIVE_CLASS_SSN:
			v.ssn = true
		case event.SensitiveClass_SENSITIVE_CLASS_EMAIL, event.SensitiveClass_SENSITIVE_CLASS_PHONE:
			v.pii = true
		}
	}
	return v
}

func (v ev) failed() bool { return v.outcome == event.LoginOutcome_LOGIN_OUTCOME_FAILURE }

// labelled returns the events l labels: its clients' requests to its
// endpoint, or for new_sensitive_field the responses that leaked an SSN.
func labelled(evs []ev, l Label) []ev {
	var out []ev
	for _, e := range evs {
		if e.endpoint != l.Endpoint {
			continue
		}
		if l.Kind == "new_sensitive_field" && e.ssn || l.Kind != "new_sensitive_field" && slices.Contains(l.ClientIPs, e.ip) {
			out = append(out, e)
		}
	}
	return out
}

// TestLabelsMatchTheCapture parses an attack capture with apiwatch and
// checks every label against what apiwatch sees: the labelled requests,
// and nothing else from those clients on that endpoint, fall within the
// label's time range, and each looks like its kind.
func TestLabelsMatchTheCapture(t *testing.T) {
	name := filepath.Join(t.TempDir(), "attacks.pcap")
	truth, err := WriteFiles(name, shortConfig("attacks"))
	if err != nil {
		t.Fatal(err)
	}
	evs := analyze(t, name)
	if len(evs) != truth.Requests {
		t.Fatalf("apiwatch saw %d transactions, truth says %d", len(evs), truth.Requests)
	}
	if len(truth.Episodes) != len(timeline) || len(truth.HeavyUsers) != pollers+mistypers+2 {
		t.Fatalf("%d episodes and %d heavy users, want %d and %d", len(truth.Episodes), len(truth.HeavyUsers), len(timeline), pollers+mistypers+2)
	}
	for _, ep := range truth.Episodes {
		if ep.Start.Before(truth.LearningEnd) {
			t.Errorf("%s starts at %v, in the learning phase (until %v)", ep.ID, ep.Start, truth.LearningEnd)
		}
	}
	for _, l := range append(truth.Episodes, truth.HeavyUsers...) {
		t.Run(cmpOr(l.ID, l.Kind), func(t *testing.T) {
			got := labelled(evs, l)
			if len(got) != l.Requests || len(got) == 0 {
				t.Fatalf("%d labelled requests in the capture, truth says %d", len(got), l.Requests)
			}
			if !got[0].t.Equal(l.Start) || !got[len(got)-1].t.Equal(l.End) {
				t.Errorf("requests from %v to %v, truth says %v to %v", got[0].t, got[len(got)-1].t, l.Start, l.End)
			}
			ips := map[string]bool{}
			for _, e := range got {
				ips[e.ip] = true
			}
			if len(ips) != len(l.ClientIPs) {
				t.Errorf("%d client addresses in the capture, truth lists %d", len(ips), len(l.ClientIPs))
			}
			looksLike[l.Kind](t, got, evs)
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// looksLike checks that a label's events have its kind's traits; all
// holds every event of the capture.
var looksLike = map[string]func(t *testing.T, got, all []ev){
	"sequential": func(t *testing.T, got, _ []ev) {
		denied := 0
		for i, e := range got {
			if e.status == 403 || e.status == 404 {
				denied++
			}
			if i > 0 && lastID(t, e.path) != lastID(t, got[i-1].path)+1 {
				t.Fatalf("%s follows %s", e.path, got[i-1].path)
			}
		}
		if denied < len(got)*7/10 {
			t.Errorf("%d of %d denied", denied, len(got))
		}
	},
	"foreign_objects": func(t *testing.T, got, all []ev) {
		for _, e := range got {
			i := slices.IndexFunc(all, func(o ev) bool { return o.path == e.path && o.ip != e.ip && o.t.Before(e.t) })
			if e.status != 200 || i < 0 {
				t.Fatalf("%s: status %d, fetched earlier by another client: %v", e.path, e.status, i >= 0)
			}
		}
	},
	"new_sensitive_field": func(t *testing.T, got, all []ev) {
		if n := distinct(got, func(e ev) string { return e.ip }); n < 10 {
			t.Errorf("the leak reached %d clients", n)
		}
		// The SSNs appear nowhere else: labelled picked every one.
		for _, e := range all {
			if e.ssn && e.endpoint != got[0].endpoint {
				t.Errorf("an SSN on %s", e.endpoint)
			}
		}
	},
	"scraping": func(t *testing.T, got, all []ev) {
		for _, e := range all {
			if e.endpoint == got[0].endpoint && e.records > 50 && e.ip != got[0].ip {
				t.Fatalf("%s got %d records too", e.ip, e.records)
			}
		}
		// apiwatch walks the first 64 KiB of a body: 166 of the 200 records.
		for _, e := range got {
			if e.records < 150 {
				t.Fatalf("%d records, want pages of 200", e.records)
			}
		}
	},
	"unauthenticated_sensitive": func(t *testing.T, got, _ []ev) {
		for _, e := range got {
			if !e.anonymous || e.status != 200 || !e.pii {
				t.Fatalf("anonymous %v, status %d, email or phone %v", e.anonymous, e.status, e.pii)
			}
		}
	},
	"many_usernames": func(t *testing.T, got, _ []ev) {
		logins(t, got, len(got)*9/10, len(got), len(got))
	},
	"distributed": func(t *testing.T, got, _ []ev) {
		logins(t, got, len(got)*9/10, len(got)*8/10, 0) // a few get in
		perIP := map[string]int{}
		for _, e := range got {
			perIP[e.ip]++
		}
		for ip, n := range perIP {
			if n > 3 {
				t.Errorf("%s tried %d times", ip, n)
			}
		}
		if len(perIP) < 100 {
			t.Errorf("%d sources", len(perIP))
		}
	},
	"brute_force": func(t *testing.T, got, _ []ev) {
		logins(t, got, 1, len(got), len(got))
	},
	"takeover": func(t *testing.T, got, _ []ev) {
		logins(t, got, 1, len(got)-1, len(got)-1)
		if got[len(got)-1].failed() {
			t.Error("the last attempt failed")
		}
	},
	"service_account": func(t *testing.T, got, _ []ev) {
		for i, e := range got {
			if lastID(t, e.path) != i+1 {
				t.Fatalf("request %d is for %s", i+1, e.path)
			}
		}
	},
	"polling_client": func(t *testing.T, got, _ []ev) {
		if n := distinct(got, func(e ev) string { return e.path }); n > 2 || len(got) < 10 {
			t.Errorf("%d requests for %d objects", len(got), n)
		}
	},
	"flash_crowd": func(t *testing.T, got, _ []ev) {
		if n := distinct(got, func(e ev) string { return e.ip }); n < 200 {
			t.Errorf("a crowd of %d", n)
		}
		if n := distinct(got, func(e ev) string { return e.path }); n != 1 {
			t.Errorf("the crowd asked for %d objects", n)
		}
	},
	"mistyped_passwords": func(t *testing.T, got, _ []ev) {
		logins(t, got, 1, len(got)-1, len(got)-1)
		if len(got) < 2 || len(got) > 4 || got[len(got)-1].failed() {
			t.Errorf("%d attempts, the last failed: %v", len(got), got[len(got)-1].failed())
		}
	},
}

// logins checks that got are logins apiwatch recognises, with at least
// users distinct user names and failed failures of which the first first
// in a row.
func logins(t *testing.T, got []ev, users, failed, first int) {
	t.Helper()
	n := 0
	for i, e := range got {
		if e.user == "" {
			t.Fatalf("attempt %d: no user name", i+1)
		}
		if e.failed() {
			n++
		} else if i < first {
			t.Fatalf("attempt %d did not fail", i+1)
		}
	}
	if d := distinct(got, func(e ev) string { return e.user }); n < failed || d < users || users == 1 && d != 1 {
		t.Errorf("%d attempts, %d failed, %d user names", len(got), n, d)
	}
}

func distinct(evs []ev, key func(ev) string) int {
	seen := map[string]bool{}
	for _, e := range evs {
		seen[key(e)] = true
	}
	return len(seen)
}

func lastID(t *testing.T, path string) int {
	t.Helper()
	n, err := strconv.Atoi(path[strings.LastIndexByte(path, '/')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttacksAddToBenign: the benign scenario has no episodes, and the
// same heavy users as "attacks"; each of its clients sends the same
// requests in both.
func TestAttacksAddToBenign(t *testing.T) {
	dir := t.TempDir()
	runs := map[string][]ev{}
	truths := map[string]*Truth{}
	for _, sc := range []string{"benign", "attacks"} {
		name := filepath.Join(dir, sc+".pcap")
		truth, err := WriteFiles(name, shortConfig(sc))
		if err != nil {
			t.Fatal(err)
		}
		truths[sc], runs[sc] = truth, analyze(t, name)
	}
	if b, err := marshalTruth(truths["benign"]); err != nil || !bytes.Contains(b, []byte(`"episodes": []`)) {
		t.Errorf("benign truth without an empty episode list (%v):\n%s", err, b)
	}
	benign, attacks := truths["benign"].HeavyUsers, truths["attacks"].HeavyUsers
	if len(benign) != len(attacks) {
		t.Fatalf("%d heavy users in benign, %d in attacks", len(benign), len(attacks))
	}
	for i := range benign {
		b, a := benign[i], attacks[i]
		if b.Kind != a.Kind || b.Endpoint != a.Endpoint || !slices.Equal(b.ClientIPs, a.ClientIPs) || b.Requests != a.Requests {
			t.Errorf("heavy user %d: %+v in benign, %+v in attacks", i, b, a)
		}
	}
	calls := func(evs []ev) map[string][]string {
		m := map[string][]string{}
		for _, e := range evs {
			m[e.ip] = append(m[e.ip], e.endpoint)
		}
		return m
	}
	inAttacks := calls(runs["attacks"])
	for ip, eps := range calls(runs["benign"]) {
		if !slices.Equal(eps, inAttacks[ip]) {
			t.Fatalf("%s calls\n%v in benign,\n%v in attacks", ip, eps, inAttacks[ip])
		}
	}
}

func TestActorScenariosDeterministic(t *testing.T) {
	for _, sc := range []string{"benign", "attacks"} {
		sum := func() [32]byte {
			var b bytes.Buffer
			if _, err := Generate(&b, shortConfig(sc)); err != nil {
				t.Fatal(err)
			}
			return sha256.Sum256(b.Bytes())
		}
		if first, second := sum(), sum(); first != second {
			t.Fatalf("%s: same seed, different captures", sc)
		}
	}
}

func TestActorScenariosReadBack(t *testing.T) {
	cfg := shortConfig("attacks")
	cfg.VLAN, cfg.IPv6 = 0.3, 0.3
	truth, _ := readsBack(t, cfg, "attacks.pcap.gz")
	for what, n := range map[string]int{"IPv6 connections": truth.IPv6Connections, "VLAN connections": truth.VLANConnections,
		"chunked": truth.Chunked, "gzip": truth.Gzip, "304s": truth.NoBody} {
		if n == 0 {
			t.Errorf("no %s", what)
		}
	}
}

// The default actor scenarios span 12 minutes at 30 requests a second in
// 20 to 60 MB.
func TestActorScenarioSizes(t *testing.T) {
	for _, sc := range []string{"benign", "attacks"} {
		cfg := DefaultConfig()
		cfg.Scenario = sc
		truth, err := Generate(io.Discard, cfg)
		if err != nil {
			t.Fatal(err)
		}
		span := truth.LastPacket.Sub(truth.FirstPacket)
		rate := float64(truth.Requests) / span.Seconds()
		if truth.PcapBytes < 20<<20 || truth.PcapBytes > 60<<20 || span < cfg.Duration || span > cfg.Duration+5*time.Second || rate < 25 || rate > 40 {
			t.Errorf("%s: %d bytes over %v, %.1f requests/s", sc, truth.PcapBytes, span, rate)
		}
	}
}

func TestActorScenarioConfig(t *testing.T) {
	cfg := shortConfig("attacks")
	cfg.Duration = 30 * time.Second
	if _, err := Generate(io.Discard, cfg); err == nil {
		t.Error("a 30-second attack capture was accepted")
	}
	cfg.Scenario = "chaos"
	if _, err := Generate(io.Discard, cfg); err == nil || !strings.Contains(err.Error(), "benign") {
		t.Errorf("unknown scenario: %v", err)
	}
}
