package detect

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// ev builds an event: an actor calling an endpoint at t0+at.
func ev(at time.Duration, endpoint, actor, ip string, status uint32) *event.APIEvent {
	e := &event.APIEvent{SchemaMajor: event.SchemaMajor, RequestStartNs: t0.Add(at).UnixNano(), ClientIp: ip,
		Request:  &event.Request{Endpoint: endpoint, Path: "/x"},
		Response: &event.Response{Status: status, BodyBytes: 200}}
	if actor != "" {
		e.Actor = &event.Actor{Id: actor, Kind: event.ActorKind_ACTOR_KIND_JWT}
	} else {
		e.Actor = &event.Actor{Id: ip, Kind: event.ActorKind_ACTOR_KIND_CLIENT_IP}
	}
	return e
}

func withObject(e *event.APIEvent, n uint64) *event.APIEvent {
	e.ObjectIds = []*event.ObjectID{{Param: "id", Value: &event.ObjectID_Number{Number: n}}}
	return e
}

func login(e *event.APIEvent, user string, ok bool) *event.APIEvent {
	out := event.LoginOutcome_LOGIN_OUTCOME_FAILURE
	if ok {
		out = event.LoginOutcome_LOGIN_OUTCOME_SUCCESS
	}
	e.Login = &event.Login{UsernameHash: user, Outcome: out}
	return e
}

const users = "GET api.example.com /v1/users/{id}"
const loginEP = "POST api.example.com /auth/login"

// benign returns 50 actors each reading their own objects, and logging in
// (sometimes mistyping once), from one time to another.
func benign(from, to time.Duration) []*event.APIEvent {
	var out []*event.APIEvent
	for at := from; at < to; at += 100 * time.Millisecond {
		i := int(at / (100 * time.Millisecond))
		a := i % 50
		actor := fmt.Sprintf("actor-%d", a)
		ip := fmt.Sprintf("10.0.0.%d", a+1)
		out = append(out, withObject(ev(at, users, actor, ip, 200), uint64(1000+a*7+i%3)))
		if i%40 == 0 {
			out = append(out, login(ev(at, loginEP, "", ip, 401), actor, false), login(ev(at+time.Second, loginEP, "", ip, 200), actor, true))
		}
	}
	return out
}

// run feeds events to a new Engine in capture-time order.
func run(events ...[]*event.APIEvent) *Engine {
	var all []*event.APIEvent
	for _, es := range events {
		all = append(all, es...)
	}
	slices.SortStableFunc(all, func(a, b *event.APIEvent) int { return cmp.Compare(a.RequestStartNs, b.RequestStartNs) })
	d := New(Config{}, baseline.New(baseline.Config{}))
	for _, e := range all {
		d.Process(e)
	}
	return d
}

func findings(d *Engine) map[string]*finding.Finding {
	out := map[string]*finding.Finding{}
	for _, f := range d.Findings() {
		out[f.Detector+"/"+f.Kind] = f
	}
	return out
}

func TestBenignIsQuiet(t *testing.T) {
	d := run(benign(0, 15*time.Minute))
	if fs := d.Findings(); len(fs) != 0 {
		t.Fatalf("benign traffic gave %d findings, first: %+v", len(fs), *fs[0])
	}
}

func TestEnumeration(t *testing.T) {
	// A sync job, busy from the start, and the attack: one actor walking
	// ids, mostly 404.
	var sync, attack []*event.APIEvent
	for i := range 4000 {
		at := time.Duration(i) * 150 * time.Millisecond
		sync = append(sync, withObject(ev(at, users, "sync-job", "10.9.9.9", 200), uint64(i+1)))
	}
	for i := range 300 {
		at := 7*time.Minute + time.Duration(i)*100*time.Millisecond
		attack = append(attack, withObject(ev(at, users, "mallory", "203.0.113.5", 404), uint64(50000+i)))
	}
	d := run(benign(0, 10*time.Minute), sync, attack)
	fs := findings(d)
	f := fs["enumeration/sequential_ids"]
	if f == nil || len(d.Findings()) != 1 {
		t.Fatalf("want one sequential enumeration finding, got %v", fs)
	}
	if f.Actor != "mallory" || f.ClientIPs[0] != "203.0.113.5" || f.Severity < finding.High || f.Counts["distinct_objects"] < 50 {
		t.Errorf("finding %+v", *f)
	}
	if got := f.FirstSeen.Sub(t0); got < 7*time.Minute || f.DetectedAt.Sub(f.FirstSeen.Time) > time.Minute {
		t.Errorf("first seen at +%s, detected %s later", got, f.DetectedAt.Sub(f.FirstSeen.Time))
	}
	// Same incident, same id: replaying the tail updates it, no new one.
	id, version := f.ID, f.Version
	d.Process(withObject(ev(7*time.Minute+31*time.Second, users, "mallory", "203.0.113.5", 404), 60000))
	if g := findings(d)["enumeration/sequential_ids"]; g.ID != id || g.Version <= version || len(d.Findings()) != 1 {
		t.Errorf("update changed id or did not bump the version: %s v%d -> %s v%d", id, version, g.ID, g.Version)
	}
}

func TestCredentialStuffing(t *testing.T) {
	var attack []*event.APIEvent
	for i := range 40 { // one source, many usernames
		attack = append(attack, login(ev(7*time.Minute+time.Duration(i)*time.Second, loginEP, "", "198.51.100.7", 401), fmt.Sprintf("victim-%d", i), false))
	}
	for i := range 15 { // a burst of failures, then the right password
		attack = append(attack, login(ev(8*time.Minute+time.Duration(i)*time.Second, loginEP, "", "198.51.100.8", 401), "ceo", false))
	}
	attack = append(attack, login(ev(8*time.Minute+20*time.Second, loginEP, "", "198.51.100.8", 200), "ceo", true))
	d := run(benign(0, 10*time.Minute), attack)
	fs := findings(d)
	if fs["credential_stuffing/many_usernames"] == nil || fs["credential_stuffing/takeover"] == nil {
		t.Fatalf("want many_usernames and takeover, got %v", fs)
	}
	if f := fs["credential_stuffing/takeover"]; f.Severity != finding.Critical || f.ClientIPs[0] != "198.51.100.8" {
		t.Errorf("takeover %+v", *f)
	}
}

func TestNewSensitiveClass(t *testing.T) {
	d := New(Config{}, baseline.New(baseline.Config{}))
	analysed := func(at time.Duration, classes ...event.SensitiveClass) *event.APIEvent {
		e := ev(at, users, "alice", "10.0.0.1", 200)
		e.Response.BodyAnalyzed = true
		e.Response.Shape = &event.Shape{FieldPaths: []string{"id", "name"}, Records: 1}
		for _, c := range classes {
			e.Response.Sensitive = append(e.Response.Sensitive, &event.SensitiveCount{Class: c, Count: 1})
		}
		return e
	}
	for i := range 400 {
		d.Process(analysed(time.Duration(i)*time.Second, event.SensitiveClass_SENSITIVE_CLASS_EMAIL))
	}
	if len(d.Findings()) != 0 {
		t.Fatalf("learning gave findings: %v", findings(d))
	}
	e := analysed(401*time.Second, event.SensitiveClass_SENSITIVE_CLASS_EMAIL, event.SensitiveClass_SENSITIVE_CLASS_SSN)
	e.Response.Shape.FieldPaths = append(e.Response.Shape.FieldPaths, "ssn")
	d.Process(e)
	fs := findings(d)
	if f := fs["data_exposure/new_sensitive_class"]; f == nil || f.Severity != finding.High || f.Subject != "classes ssn" {
		t.Errorf("new class: %v", fs)
	}
	if fs["data_exposure/new_sensitive_field"] == nil {
		t.Errorf("new field ssn not reported: %v", fs)
	}
}

// FuzzProcess feeds whatever decodes as an event (hostile field values,
// times going backwards, missing parts) to one Engine: it must not panic.
func FuzzProcess(f *testing.F) {
	for _, e := range append(benign(0, 2*time.Second), benchEvents(20)...) {
		b, err := event.Marshal(nil, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d := New(Config{}, baseline.New(baseline.Config{MaxActorsTotal: 1000, MaxOwnersTotal: 1000, MaxEndpoints: 50}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e event.APIEvent
		if event.Unmarshal(b, &e) != nil {
			return
		}
		d.Process(&e)
		d.Changed()
	})
}

// TestRestore: a detector that takes over an endpoint continues the
// incidents the previous one reported, under the same ids.
func TestRestore(t *testing.T) {
	var attack []*event.APIEvent
	for i := range 300 {
		at := 7*time.Minute + time.Duration(i)*100*time.Millisecond
		attack = append(attack, withObject(ev(at, users, "mallory", "203.0.113.5", 404), uint64(50000+i)))
	}
	first := run(benign(0, 10*time.Minute), attack[:150])
	fs := first.Findings()
	if len(fs) != 1 {
		t.Fatalf("first detector: %d findings", len(fs))
	}
	second := New(Config{}, baseline.New(baseline.Config{}))
	second.Restore([]finding.Finding{*fs[0]})
	for _, e := range attack[150:] {
		second.Process(e)
	}
	got := second.Findings()
	if len(got) != 1 || got[0].ID != fs[0].ID || got[0].Version <= fs[0].Version || got[0].Counts["events"] <= fs[0].Counts["events"] {
		t.Errorf("after the takeover: %d findings, id %s→%s, version %d→%d", len(got), fs[0].ID, got[0].ID, fs[0].Version, got[0].Version)
	}
}

// TestSuppress: a pattern an analyst marked as a false positive opens no
// finding again, while the same attack from another actor still does.
func TestSuppress(t *testing.T) {
	attack := func(actor, ip string, from time.Duration, base uint64) []*event.APIEvent {
		var out []*event.APIEvent
		for i := range 300 {
			at := from + time.Duration(i)*100*time.Millisecond
			out = append(out, withObject(ev(at, users, actor, ip, 404), base+uint64(i)))
		}
		return out
	}
	first := run(benign(0, 10*time.Minute), attack("mallory", "203.0.113.5", 7*time.Minute, 50000))
	f := findings(first)["enumeration/sequential_ids"]
	if f == nil {
		t.Fatal("no finding to mark")
	}
	var all []*event.APIEvent
	for _, es := range [][]*event.APIEvent{benign(0, 12*time.Minute), attack("mallory", "203.0.113.5", 7*time.Minute, 50000),
		attack("trudy", "203.0.113.9", 9*time.Minute, 80000)} {
		all = append(all, es...)
	}
	slices.SortStableFunc(all, func(a, b *event.APIEvent) int { return cmp.Compare(a.RequestStartNs, b.RequestStartNs) })
	d := New(Config{}, baseline.New(baseline.Config{}))
	d.Suppress([]Suppression{Of(f)})
	for _, e := range all {
		d.Process(e)
	}
	fs := d.Findings()
	if len(fs) != 1 || fs[0].Subject == f.Subject || d.Stats().Muted == 0 {
		t.Errorf("with mallory's pattern suppressed: %d findings (want trudy's only), %d triggers muted", len(fs), d.Stats().Muted)
	}
	if wide := (Suppression{Detector: finding.Enumeration}); !wide.matches(f.Detector, f.Kind, f.Endpoint, "anyone") {
		t.Error("an empty field does not match everything")
	}
}
