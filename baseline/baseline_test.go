package baseline

import (
	"bytes"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/event"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func call(at time.Duration, endpoint, actor string, object uint64, status uint32) *event.APIEvent {
	return &event.APIEvent{RequestStartNs: t0.Add(at).UnixNano(), ClientIp: "10.0.0.1", LatencyNs: 3e6,
		Request:   &event.Request{Endpoint: endpoint},
		Response:  &event.Response{Status: status, BodyBytes: 512},
		Actor:     &event.Actor{Id: actor, Kind: event.ActorKind_ACTOR_KIND_JWT},
		ObjectIds: []*event.ObjectID{{Param: "id", Value: &event.ObjectID_Number{Number: object}}}}
}

func TestWindowsAndLearning(t *testing.T) {
	s := New(Config{LearnEvents: 10, LearnDuration: time.Minute})
	const ep = "GET api.example.com /v1/users/{id}"
	// alice reads objects 1..30 in sequence within one window.
	var o *Observation
	for i := range 30 {
		o = s.Observe(call(time.Duration(i)*time.Second, ep, "alice", uint64(i+1), 200))
	}
	a := o.Actor
	if a.Objects.Len() != 30 || a.Sequential != 29 || a.Numeric != 30 || o.Learned {
		t.Fatalf("window: objects %d sequential %d numeric %d learned %v", a.Objects.Len(), a.Sequential, a.Numeric, o.Learned)
	}
	// bob reads alice's objects: foreign.
	for i := range 5 {
		o = s.Observe(call(31*time.Second+time.Duration(i)*time.Second, ep, "bob", uint64(i+1), 200))
	}
	if o.Actor.Foreign != 5 {
		t.Errorf("bob's foreign objects: %d, want 5", o.Actor.Foreign)
	}
	// A minute later alice's window closes into the endpoint's distribution.
	o = s.Observe(call(70*time.Second, ep, "alice", 99, 404))
	if o.Learned || !o.Endpoint.Learned(s.Config()) || o.Actor.Objects.Len() != 1 || o.Actor.Denied != 1 || o.Actor.Windows != 1 {
		t.Errorf("after the window: learned before %v, after %v; objects %d denied %d windows %d",
			o.Learned, o.Endpoint.Learned(s.Config()), o.Actor.Objects.Len(), o.Actor.Denied, o.Actor.Windows)
	}
	if got := Quantile(o.Endpoint.Rate, 0.5); got < 34.5 || got > 35.5 {
		t.Errorf("requests in the first window: %v, want 35", got)
	}
	if got := Quantile(o.Endpoint.ActorObjects, 0.5); got < 29.5 || got > 30.5 || o.Actor.LearnedMaxObjects != 30 {
		t.Errorf("closed window: median %v, learned max %d; want 30, 30", got, o.Actor.LearnedMaxObjects)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := New(Config{})
	for i := range 500 {
		e := call(time.Duration(i)*time.Second, fmt.Sprintf("GET h /e%d", i%3), fmt.Sprintf("a%d", i%7), uint64(i), 200)
		e.Response.BodyAnalyzed = true
		e.Response.Shape = &event.Shape{FieldPaths: []string{"id", "email"}, Records: int64(i % 40)}
		e.Response.Sensitive = []*event.SensitiveCount{{Class: event.SensitiveClass_SENSITIVE_CLASS_EMAIL, Count: 2}}
		s.Observe(e)
	}
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	r := New(Config{})
	if err := r.ReadSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 {
		t.Fatalf("restored %d endpoints, want 3", r.Len())
	}
	a, b := s.Endpoint("GET h /e1"), r.Endpoint("GET h /e1")
	if a.Events != b.Events || a.Analyzed != b.Analyzed || a.Sensitive != b.Sensitive || len(b.Fields) != 2 || a.First != b.First || a.Last != b.Last {
		t.Errorf("restored %+v\nwant %+v", b, a)
	}
	for _, q := range []float64{0.5, 0.99} {
		if x, y := Quantile(a.Records, q), Quantile(b.Records, q); x != y {
			t.Errorf("records p%v: %v restored as %v", q*100, x, y)
		}
	}
	bad := strings.Replace(buf.String(), `"version":1`, `"version":9`, 1)
	if err := New(Config{}).ReadSnapshot(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("version 9 snapshot: %v", err)
	}
	if err := New(Config{}).ReadSnapshot(strings.NewReader("garbage")); err == nil {
		t.Error("garbage snapshot accepted")
	}
	one, err := s.MarshalEndpoint(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UnmarshalEndpoint(one); err != nil || r.Endpoint(a.Name).Events != a.Events {
		t.Errorf("per-endpoint round trip: %v", err)
	}
	// A rebalanced detector keeps only its partitions' endpoints.
	if n := r.Retain(func(name string) bool { return name == "GET h /e1" }); n != 2 || r.Len() != 1 || r.Endpoint("GET h /e0") != nil {
		t.Errorf("Retain forgot %d, kept %d endpoints; want 2 forgotten, GET h /e1 kept", n, r.Len())
	}
}

// TestSnapshotKeepsOwnership: objects served before a snapshot are still
// the first actor's after a restore into another process's store, numbers
// and hashed ids alike, so fetching them is foreign to anyone else; and an
// actor's open window goes on where it was.
func TestSnapshotKeepsOwnership(t *testing.T) {
	const ep = "GET api.example.com /v1/orders/{id}"
	hashed := func(e *event.APIEvent, i int) *event.APIEvent {
		e.ObjectIds[0].Value = &event.ObjectID_Hash{Hash: fmt.Sprintf("%032x", 0xabc000+i)}
		return e
	}
	s := New(Config{})
	for i := range 20 {
		s.Observe(call(time.Duration(i)*time.Second, ep, "alice", uint64(i+1), 200))
		s.Observe(hashed(call(time.Duration(i)*time.Second, ep, "carol", 0, 200), i))
	}
	// mallory's window opens before the snapshot: it goes on after it.
	for i := range 5 {
		s.Observe(call(20*time.Second+time.Duration(i)*time.Second, ep, "mallory", uint64(i+11), 200))
	}
	one, err := s.MarshalEndpoint(s.Endpoint(ep))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{})
	if err := r.UnmarshalEndpoint(one); err != nil {
		t.Fatal(err)
	}
	var o *Observation
	for i := range 10 {
		r.Observe(call(time.Minute+time.Duration(i)*time.Second, ep, "mallory", uint64(i+1), 200))
		o = r.Observe(hashed(call(time.Minute+time.Duration(i)*time.Second, ep, "mallory", 0, 200), i))
	}
	if o.Actor.Foreign != 25 || o.Actor.Objects.Len() != 25 || o.Actor.Events != 25 {
		t.Errorf("mallory's window after the restore: %d foreign of %d objects in %d events, want 25 of 25 in 25 (5 before, 10 numbers and 10 hashes after)",
			o.Actor.Foreign, o.Actor.Objects.Len(), o.Actor.Events)
	}
	if o = r.Observe(call(2*time.Minute, ep, "alice", 3, 200)); o.Actor.Foreign != 0 {
		t.Errorf("alice's own object counted foreign: %d", o.Actor.Foreign)
	}
	// A damaged ownership list is an error, not a partial restore.
	for _, bad := range []string{`"objects":"AAAA"`, `"objects":"AAAAAAAAAAAB/w=="`} {
		b := regexp.MustCompile(`"objects":"[^"]*"`).ReplaceAllString(string(one), bad)
		if err := New(Config{}).UnmarshalEndpoint([]byte(b)); err == nil || !strings.Contains(err.Error(), "owners") {
			t.Errorf("owners %s: %v", bad, err)
		}
	}
}

// TestSnapshotKeepsLoginWindows: a brute force split by a snapshot is one
// window of attempts on the restored side, for its source, its username and
// the endpoint; an actor's learned maximum survives its closed window.
func TestSnapshotKeepsLoginWindows(t *testing.T) {
	const ep = "POST auth.example.com /auth/login"
	login := func(at time.Duration, user string) *event.APIEvent {
		e := call(at, ep, "anon", 0, 401)
		e.ObjectIds, e.ClientIp = nil, "10.66.0.9"
		e.Login = &event.Login{UsernameHash: user, Outcome: event.LoginOutcome_LOGIN_OUTCOME_FAILURE}
		return e
	}
	s := New(Config{LearnEvents: 5, LearnDuration: time.Second})
	// bob's busy window while the endpoint learns, closed long before.
	for i := range 30 {
		s.Observe(call(time.Duration(i)*time.Millisecond, ep, "bob", uint64(i), 200))
	}
	s.Observe(call(2*time.Minute, ep, "bob", 1, 200))
	for i := range 10 {
		s.Observe(login(10*time.Minute+time.Duration(i)*time.Second, fmt.Sprintf("u%d", i%3)))
	}
	one, err := s.MarshalEndpoint(s.Endpoint(ep))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{LearnEvents: 5, LearnDuration: time.Second})
	if err := r.UnmarshalEndpoint(one); err != nil {
		t.Fatal(err)
	}
	var o *Observation
	for i := range 12 {
		o = r.Observe(login(10*time.Minute+time.Duration(10+i)*time.Second, "u1"))
	}
	if o.Source.Attempts != 22 || o.Source.Failures != 22 || o.Source.Usernames.Len() != 3 {
		t.Errorf("source window: %d attempts, %d failures, %d usernames; want 22, 22, 3", o.Source.Attempts, o.Source.Failures, o.Source.Usernames.Len())
	}
	if o.Username.Attempts != 15 || o.Username.Sources.Len() != 1 {
		t.Errorf("u1's window: %d attempts from %d sources, want 15 from 1", o.Username.Attempts, o.Username.Sources.Len())
	}
	if w := o.Endpoint.LoginWindow; w.Attempts != 22 || w.Failures != 22 {
		t.Errorf("endpoint login window: %d attempts, %d failures; want 22, 22", w.Attempts, w.Failures)
	}
	if o = r.Observe(call(11*time.Minute, ep, "bob", 1, 200)); o.Actor.LearnedMaxObjects != 30 {
		t.Errorf("bob's learned maximum after the restore: %d, want 30", o.Actor.LearnedMaxObjects)
	}
}

// TestMemoryBounded drives millions of distinct actors and object ids
// through the store: what it keeps stays within its caps, and the heap
// within what those caps allow.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("drives 2M events")
	}
	cfg := Config{MaxActorsTotal: 50000, MaxOwnersTotal: 200000, MaxEndpoints: 100}
	s := New(cfg)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := call(0, "", "", 0, 200)
	num := &event.ObjectID_Number{}
	e.ObjectIds[0].Value = num
	names := make([]string, 50)
	for i := range names {
		names[i] = "GET h /e" + strconv.Itoa(i)
	}
	for i := range 2_000_000 {
		e.RequestStartNs = t0.Add(time.Duration(i) * time.Millisecond).UnixNano()
		e.Request.Endpoint = names[i%len(names)]
		e.Actor.Id = "actor-" + strconv.Itoa(i) // all distinct
		num.Number = uint64(i)
		switch {
		case i%3 == 0: // one actor walking hundreds of thousands of objects
			e.Request.Endpoint, e.Actor.Id = names[0], "walker"
		case i%1000 == 1: // and endpoints coming and going beyond the cap
			e.Request.Endpoint = "GET h /churn" + strconv.Itoa(i)
		}
		s.Observe(e)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	actors, owners := 0, 0
	s.Endpoints(func(ep *Endpoint) { actors += ep.Actors(); owners += ep.owners.len() })
	if s.Len() > cfg.MaxEndpoints || actors > 2*cfg.MaxActorsTotal || owners > 2*cfg.MaxOwnersTotal {
		t.Errorf("kept %d endpoints, %d actors, %d owners; caps %d, %d (×2), %d (×2)", s.Len(), actors, owners, cfg.MaxEndpoints, cfg.MaxActorsTotal, cfg.MaxOwnersTotal)
	}
	// Budget: 1 KiB per actor, 64 B per owner, 40 KiB per endpoint.
	limit := uint64(2*cfg.MaxActorsTotal*1024 + 2*cfg.MaxOwnersTotal*64 + cfg.MaxEndpoints*40<<10)
	grew := after.HeapInuse - min(before.HeapInuse, after.HeapInuse)
	t.Logf("heap in use grew by %d MiB (limit %d MiB); %d endpoints, %d actors, %d owners", grew>>20, limit>>20, s.Len(), actors, owners)
	if grew > limit {
		t.Errorf("heap grew by %d MiB, over the %d MiB the caps allow", grew>>20, limit>>20)
	}
	if w := s.Endpoint("GET h /e0"); w != nil {
		if a, ok := w.actors.get("walker"); ok && a.Objects.hll == nil && a.Objects.Len() > uint64(s.cfg.MaxExactObjects) {
			t.Errorf("walker's objects counted exactly beyond the cap: %d", a.Objects.Len())
		}
	}
}
