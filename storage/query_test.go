package storage_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/detect"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/normalize"
	"github.com/apiwatch/apiwatch/pipeline"
	"github.com/apiwatch/apiwatch/storage"
)

// oldEndpoint is traffic of the day before the demo capture.
const oldEndpoint = "POST old.example.com /v1/login"

// demo is what storeDemo wrote: every event row, and the findings in their
// final state.
type demo struct {
	rows     []storage.EventRow
	findings []finding.Finding
}

// storeDemo runs the attack demo capture through the normalizer and the
// detectors, as analyze does, writing every event and every version of
// every finding; plus a few logins of the day before on an endpoint of
// their own.
func storeDemo(t *testing.T, s *storage.Store) *demo {
	t.Helper()
	ctx := context.Background()
	src, err := capture.OpenFile("../testdata/attacks-demo.pcap.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Small batches: the rollups then hold unmerged rows of one key.
	ew := s.EventWriter(storage.WriterConfig{BatchRows: 500})
	fw := s.FindingWriter(storage.WriterConfig{})
	n := normalize.New(normalize.Config{SensorID: "test"})
	eng := detect.New(detect.Config{}, baseline.New(baseline.Config{}))
	d := &demo{}
	versions := 0
	add := func(r storage.EventRow) {
		d.rows = append(d.rows, r)
		if !ew.Add(r) {
			t.Error("event writer dropped a row")
		}
	}
	h := parse.HandlerFunc(func(tx *parse.Transaction) {
		e := n.Event(tx)
		add(storage.NewEventRow(e))
		eng.Process(e)
		for _, f := range eng.Changed() { // every version, as a sensor sends them
			if !fw.Add(cloneFinding(f)) {
				t.Error("finding writer dropped a row")
			}
			versions++
		}
	})
	if _, err := pipeline.Run(ctx, pipeline.Config{Workers: 1}, []capture.Source{src}, []string{"attacks-demo"},
		func(int) parse.Handler { return h }); err != nil {
		t.Fatal(err)
	}
	day0 := time.Date(2026, 3, 1, 23, 58, 10, 5000, time.UTC)
	for i := range 12 {
		e := testEvent(i)
		e.RequestStartNs = day0.Add(time.Duration(i) * 10 * time.Second).UnixNano()
		e.Request.Method, e.Request.Endpoint, e.Request.Host, e.Request.Path = "POST", oldEndpoint, "old.example.com", "/v1/login"
		e.ClientIp = fmt.Sprintf("192.0.2.%d", i%3)
		e.Actor = &event.Actor{Id: fmt.Sprintf("old-%d", i%4), Kind: event.ActorKind_ACTOR_KIND_CLIENT_IP}
		e.Login = &event.Login{UsernameHash: fmt.Sprintf("user-%d", i%5), Outcome: event.LoginOutcome_LOGIN_OUTCOME_FAILURE}
		if i%4 == 3 {
			e.Login.Outcome = event.LoginOutcome_LOGIN_OUTCOME_SUCCESS
		}
		add(storage.NewEventRow(e))
	}
	if err := ew.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := ew.Stats(); st.Written != uint64(len(d.rows)) {
		t.Fatalf("events: %+v, want %d written", st, len(d.rows))
	}
	for _, f := range eng.Findings() {
		d.findings = append(d.findings, cloneFinding(f))
	}
	if len(d.findings) == 0 || versions <= len(d.findings) {
		t.Fatalf("%d findings in %d versions: the demo should make findings that are updated", len(d.findings), versions)
	}
	return d
}

func cloneFinding(f *finding.Finding) finding.Finding {
	c := *f
	c.ClientIPs, c.Counts = slices.Clone(f.ClientIPs), maps.Clone(f.Counts)
	c.Evidence, c.Samples = slices.Clone(f.Evidence), slices.Clone(f.Samples)
	return c
}

func TestQueries(t *testing.T) {
	s := chtest.Open(t)
	start := time.Now()
	d := storeDemo(t, s)
	t.Logf("stored %d events, %d findings in %v", len(d.rows), len(d.findings), time.Since(start))
	var rollups, keys uint64
	if err := s.Conn().QueryRow(context.Background(), "SELECT count(), uniqExact(endpoint, minute, actor_id) FROM `"+s.Database()+"`.rollup_minute").Scan(&rollups, &keys); err != nil {
		t.Fatal(err)
	}
	t.Logf("rollup_minute: %d rows for %d keys (Rates and TopActors must sum them)", rollups, keys)
	t.Run("Findings", func(t *testing.T) { testFindings(t, s, d) })
	t.Run("Finding", func(t *testing.T) { testFinding(t, s, d) })
	t.Run("Inventory", func(t *testing.T) { testInventory(t, s, d) })
	t.Run("TopActors", func(t *testing.T) { testTopActors(t, s, d) })
	t.Run("Rates", func(t *testing.T) { testRates(t, s, d) })
	t.Run("LoginOutcomes", func(t *testing.T) { testLoginOutcomes(t, s, d) })
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// micros is a finding time as the store keeps it.
func micros(ft finding.Time) time.Time { return ft.UTC().Truncate(time.Microsecond) }

func testFindings(t *testing.T, s *storage.Store, d *demo) {
	ctx := context.Background()
	// Newest first, as Findings orders them.
	all := slices.Clone(d.findings)
	slices.SortStableFunc(all, func(a, b finding.Finding) int {
		return cmp.Or(micros(b.FirstSeen).Compare(micros(a.FirstSeen)), strings.Compare(a.ID, b.ID))
	})
	detectors := map[string]bool{}
	for _, f := range all {
		detectors[f.Detector] = true
	}
	if len(detectors) != 3 {
		t.Errorf("the demo's findings come from %d detectors, want all 3", len(detectors))
	}
	check := func(name string, filter storage.FindingFilter, keep func(f *finding.Finding) bool) {
		t.Helper()
		var want []string
		for i := range all {
			if keep(&all[i]) {
				want = append(want, jsonOf(t, &all[i]))
			}
		}
		got, err := s.Findings(ctx, filter)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		var have []string
		for i := range got {
			have = append(have, jsonOf(t, &got[i]))
		}
		if !slices.Equal(have, want) {
			t.Errorf("%s: %d findings, want %d\n got: %s\nwant: %s", name, len(have), len(want), strings.Join(have, "\n     "), strings.Join(want, "\n      "))
		}
	}
	// Every field round-trips (the JSON shape, whose times are
	// microseconds), in its latest version.
	check("all", storage.FindingFilter{}, func(*finding.Finding) bool { return true })
	check("limit", storage.FindingFilter{Limit: 2}, func(f *finding.Finding) bool { return f.ID == all[0].ID || f.ID == all[1].ID })
	for det := range detectors {
		check("detector "+det, storage.FindingFilter{Detectors: []string{det}}, func(f *finding.Finding) bool { return f.Detector == det })
	}
	check("two detectors", storage.FindingFilter{Detectors: []string{finding.Enumeration, finding.DataExposure}},
		func(f *finding.Finding) bool { return f.Detector != finding.CredentialStuffing })
	for _, sev := range []string{"critical", "high", "medium", "low"} {
		check("severity "+sev, storage.FindingFilter{Severities: []string{sev}}, func(f *finding.Finding) bool { return f.Severity.String() == sev })
	}
	check("critical credential stuffing", storage.FindingFilter{Detectors: []string{finding.CredentialStuffing}, Severities: []string{"critical"}},
		func(f *finding.Finding) bool {
			return f.Detector == finding.CredentialStuffing && f.Severity == finding.Critical
		})
	ep := all[0].Endpoint
	check("endpoint", storage.FindingFilter{Endpoints: []string{ep}}, func(f *finding.Finding) bool { return f.Endpoint == ep })
	var actor string
	for _, f := range all {
		if f.Actor != "" {
			actor = f.Actor
		}
	}
	check("actor", storage.FindingFilter{Actors: []string{actor}}, func(f *finding.Finding) bool { return f.Actor == actor })
	check("quoted values are values", storage.FindingFilter{Endpoints: []string{`x' OR '1'='1`}}, func(*finding.Finding) bool { return false })
	// Time: the incidents overlapping [from, to), to the microsecond.
	from, to := time.Date(2026, 3, 2, 9, 4, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC)
	overlaps := func(from, to time.Time) func(f *finding.Finding) bool {
		return func(f *finding.Finding) bool {
			return (to.IsZero() || micros(f.FirstSeen).Before(to)) && (from.IsZero() || !micros(f.LastSeen).Before(from))
		}
	}
	check("09:04-09:05", storage.FindingFilter{From: from, To: to}, overlaps(from, to))
	f := all[len(all)/2]
	for _, r := range [][2]time.Time{
		{micros(f.LastSeen), {}}, {micros(f.LastSeen).Add(time.Microsecond), {}}, // last seen is in, the microsecond after is not
		{{}, micros(f.FirstSeen)}, {{}, micros(f.FirstSeen).Add(time.Microsecond)}, // to is exclusive
		{{}, micros(f.FirstSeen).Add(time.Nanosecond)},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}, // the day before: none
		{time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},    // beyond DateTime: all
	} {
		check(fmt.Sprintf("[%v, %v)", r[0], r[1]), storage.FindingFilter{From: r[0], To: r[1]}, overlaps(r[0], r[1]))
	}
	if _, err := s.Findings(ctx, storage.FindingFilter{Severities: []string{"urgent"}}); err == nil {
		t.Error("an unknown severity is no error")
	}
}

// summaryOf is the EventSummary of a row.
func summaryOf(r *storage.EventRow) storage.EventSummary {
	ip := ""
	if a := netip.AddrFrom16(r.ClientIP); !a.IsUnspecified() {
		ip = a.Unmap().String()
	}
	return storage.EventSummary{Time: r.Time, ClientIP: ip, Method: r.Method, Path: r.Path, Status: r.Status,
		ResponseBytes: r.ResponseBytes, Records: r.Records, ActorID: r.ActorID, SensitiveClasses: nonNil(r.SensitiveClasses)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func testFinding(t *testing.T, s *storage.Store, d *demo) {
	ctx := context.Background()
	for i := range d.findings {
		want := &d.findings[i]
		got, events, err := s.Finding(ctx, want.ID)
		if err != nil {
			t.Errorf("%s: %v", want.ID, err)
			continue
		}
		if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
			t.Errorf("finding %s:\n got %s\nwant %s", want.ID, g, w)
		}
		// Its events: on its endpoint, from its addresses or actor, within
		// its first and last seen (microseconds, inclusive).
		ips := map[string]bool{}
		for _, ip := range want.ClientIPs {
			ips[ip] = true
		}
		lo, hi := micros(want.FirstSeen), micros(want.LastSeen).Add(time.Microsecond)
		var all []storage.EventSummary
		for j := range d.rows {
			r := &d.rows[j]
			e := summaryOf(r)
			who := ips[e.ClientIP] || want.Actor != "" && r.ActorID == want.Actor || len(ips) == 0 && want.Actor == ""
			if r.Endpoint == want.Endpoint && who && !r.Time.Before(lo) && r.Time.Before(hi) {
				all = append(all, e)
			}
		}
		slices.SortStableFunc(all, func(a, b storage.EventSummary) int { return a.Time.Compare(b.Time) })
		if len(all) == 0 {
			t.Errorf("finding %s (%s %s): no events to compare", want.ID, want.Detector, want.Kind)
		}
		if len(events) != min(len(all), storage.FindingEventsLimit) {
			t.Errorf("finding %s (%s %s): %d events, want %d", want.ID, want.Detector, want.Kind, len(events), min(len(all), storage.FindingEventsLimit))
			continue
		}
		// The earliest ones; events of one nanosecond may come in any order.
		byKey := map[string]int{}
		for _, e := range all[:len(events)] {
			byKey[fmt.Sprintf("%+v", e)]++
		}
		for j, e := range events {
			if !e.Time.Equal(all[j].Time) || byKey[fmt.Sprintf("%+v", e)] == 0 {
				t.Errorf("finding %s event %d: %+v, want %+v", want.ID, j, e, all[j])
				break
			}
			byKey[fmt.Sprintf("%+v", e)]--
		}
	}
	if _, _, err := s.Finding(ctx, "no-such-finding"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing finding: %v, want ErrNotFound", err)
	}
}

func testInventory(t *testing.T, s *storage.Store, d *demo) {
	ctx := context.Background()
	byName := map[string]*storage.EndpointSummary{}
	for i := range d.rows {
		r := &d.rows[i]
		if r.Endpoint == "" {
			continue
		}
		e := byName[r.Endpoint]
		sec := r.Time.Truncate(time.Second)
		if e == nil {
			e = &storage.EndpointSummary{Endpoint: r.Endpoint, FirstSeen: sec, LastSeen: sec}
			byName[r.Endpoint] = e
		}
		e.FirstSeen, e.LastSeen = minTime(e.FirstSeen, sec), maxTime(e.LastSeen, sec)
		e.Calls++
		e.Methods = addUniq(e.Methods, r.Method)
		e.Statuses = addUniq(e.Statuses, r.Status)
		if r.ActorKind != "" {
			e.AuthKinds = addUniq(e.AuthKinds, r.ActorKind)
		}
		for _, c := range r.SensitiveClasses {
			e.SensitiveClasses = addUniq(e.SensitiveClasses, c)
		}
		e.Shadow = e.Shadow || r.Shadow != 0
	}
	check := func(name string, from, to time.Time, keep func(e *storage.EndpointSummary) bool) []storage.EndpointSummary {
		t.Helper()
		var want []storage.EndpointSummary
		for _, n := range slices.Sorted(maps.Keys(byName)) {
			if e := byName[n]; keep(e) {
				want = append(want, normalized(*e))
			}
		}
		got, err := s.Inventory(ctx, from, to)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range got {
			got[i] = normalized(got[i])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d endpoints, want %d\n got %+v\nwant %+v", name, len(got), len(want), got, want)
		}
		return got
	}
	all := check("all", time.Time{}, time.Time{}, func(*storage.EndpointSummary) bool { return true })
	if len(all) < 10 {
		t.Errorf("%d endpoints, the demo has 14", len(all))
	}
	// Selected when last seen at or after from and first seen before to,
	// to the second.
	overlaps := func(from, to time.Time) func(x *storage.EndpointSummary) bool {
		return func(x *storage.EndpointSummary) bool {
			return (from.IsZero() || !x.LastSeen.Before(from.Truncate(time.Second))) && (to.IsZero() || x.FirstSeen.Before(to))
		}
	}
	dayStart := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// The old endpoint's last call is at 00:00:00 of the demo's day.
	if got := check("the demo's day", dayStart, dayStart.Add(24*time.Hour), overlaps(dayStart, dayStart.Add(24*time.Hour))); len(got) != len(all) {
		t.Errorf("the demo's day has %d endpoints, want all %d", len(got), len(all))
	}
	if got := check("the day before", dayStart.Add(-24*time.Hour), dayStart, overlaps(dayStart.Add(-24*time.Hour), dayStart)); len(got) != 1 || got[0].Endpoint != oldEndpoint {
		t.Errorf("the day before: %+v, want %s only", got, oldEndpoint)
	}
	check("after the demo", dayStart.Add(10*time.Hour), time.Time{}, overlaps(dayStart.Add(10*time.Hour), time.Time{}))
	e := byName["GET api.example.com /api/v1/users/{id}"]
	if e == nil {
		t.Fatal("the demo has no GET api.example.com /api/v1/users/{id}")
	}
	for _, r := range [][2]time.Time{
		{e.LastSeen, {}}, {e.LastSeen.Add(time.Second), {}}, {e.LastSeen.Add(time.Millisecond), {}},
		{{}, e.FirstSeen}, {{}, e.FirstSeen.Add(time.Second)},
	} {
		check(fmt.Sprintf("[%v, %v)", r[0], r[1]), r[0], r[1], overlaps(r[0], r[1]))
	}
}

func normalized(e storage.EndpointSummary) storage.EndpointSummary {
	e.Methods, e.Statuses, e.AuthKinds, e.SensitiveClasses = nonNil(e.Methods), nonNil(e.Statuses), nonNil(e.AuthKinds), nonNil(e.SensitiveClasses)
	slices.Sort(e.Methods)
	slices.Sort(e.Statuses)
	slices.Sort(e.AuthKinds)
	slices.Sort(e.SensitiveClasses)
	return e
}

func addUniq[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// inMinutes reports whether r's minute starts in [from, to).
func inMinutes(r *storage.EventRow, from, to time.Time) bool {
	m := r.Time.Truncate(time.Minute)
	return (from.IsZero() || !m.Before(from)) && (to.IsZero() || m.Before(to))
}

func testTopActors(t *testing.T, s *storage.Store, d *demo) {
	ctx := context.Background()
	check := func(endpoint string, from, to time.Time, limit int) []storage.ActorSummary {
		t.Helper()
		by := map[string]*storage.ActorSummary{}
		for i := range d.rows {
			r := &d.rows[i]
			if r.Endpoint == "" || endpoint != "" && r.Endpoint != endpoint || !inMinutes(r, from, to) {
				continue
			}
			a := by[r.ActorID]
			if a == nil {
				a = &storage.ActorSummary{ActorID: r.ActorID}
				by[r.ActorID] = a
			}
			a.Requests++
			if r.Status >= 400 {
				a.Errors++
			}
			a.Bytes += r.ResponseBytes
			a.Records += max(r.Records, 0)
		}
		var want []storage.ActorSummary
		for _, a := range by {
			want = append(want, *a)
		}
		slices.SortFunc(want, func(a, b storage.ActorSummary) int {
			return cmp.Or(cmp.Compare(b.Requests, a.Requests), strings.Compare(a.ActorID, b.ActorID))
		})
		if limit <= 0 {
			limit = storage.DefaultTopActors
		}
		want = want[:min(len(want), limit)]
		got, err := s.TopActors(ctx, endpoint, from, to, limit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TopActors(%q, %v, %v, %d):\n got %+v\nwant %+v", endpoint, from, to, limit, got, want)
		}
		return got
	}
	if got := check("", time.Time{}, time.Time{}, 1000); len(got) < 10 {
		t.Errorf("%d actors in the demo", len(got))
	}
	check("", time.Time{}, time.Time{}, 5)
	from, to := time.Date(2026, 3, 2, 9, 3, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC)
	check("", from, to, 1000)
	check("", from.Add(-time.Second), to.Add(time.Second), 1000) // the minutes that start in the range
	// The enumerating actor leads its endpoint while it enumerates.
	for _, f := range d.findings {
		if f.Kind != "sequential_ids" {
			continue
		}
		top := check(f.Endpoint, f.FirstSeen.Truncate(time.Minute), f.LastSeen.Truncate(time.Minute).Add(time.Minute), 3)
		if len(top) == 0 || top[0].ActorID != f.Actor {
			t.Errorf("top actors of %s during the enumeration: %+v, want %s first", f.Endpoint, top, f.Actor)
		}
	}
	check(oldEndpoint, time.Time{}, time.Time{}, 0) // default limit
}

func testRates(t *testing.T, s *storage.Store, d *demo) {
	ctx := context.Background()
	check := func(f storage.RateFilter) []storage.RatePoint {
		t.Helper()
		by := map[time.Time]*storage.RatePoint{}
		for i := range d.rows {
			r := &d.rows[i]
			if r.Endpoint == "" || f.Endpoint != "" && r.Endpoint != f.Endpoint || f.Actor != "" && r.ActorID != f.Actor || !inMinutes(r, f.From, f.To) {
				continue
			}
			m := r.Time.Truncate(time.Minute)
			p := by[m]
			if p == nil {
				p = &storage.RatePoint{Minute: m}
				by[m] = p
			}
			p.Requests++
			if r.Status >= 400 {
				p.Errors++
			}
			p.Bytes += r.ResponseBytes
			p.Records += max(r.Records, 0)
			if r.LoginOutcome == "failure" {
				p.LoginFailures++
			}
		}
		var want []storage.RatePoint
		for _, m := range slices.SortedFunc(maps.Keys(by), time.Time.Compare) {
			want = append(want, *by[m])
		}
		got, err := s.Rates(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Rates(%+v):\n got %+v\nwant %+v", f, got, want)
		}
		return got
	}
	all := check(storage.RateFilter{})
	var requests uint64
	for _, p := range all {
		requests += p.Requests
	}
	var events uint64
	for i := range d.rows {
		if d.rows[i].Endpoint != "" {
			events++
		}
	}
	if requests != events || len(all) < 9 {
		t.Errorf("%d requests in %d minutes, %d events with an endpoint", requests, len(all), events)
	}
	check(storage.RateFilter{From: time.Date(2026, 3, 2, 9, 2, 30, 0, time.UTC), To: time.Date(2026, 3, 2, 9, 6, 0, 0, time.UTC)})
	check(storage.RateFilter{To: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}) // the day before only
	for _, f := range d.findings {
		if f.Actor != "" {
			check(storage.RateFilter{Endpoint: f.Endpoint})
			check(storage.RateFilter{Endpoint: f.Endpoint, Actor: f.Actor, From: f.FirstSeen.Time})
			check(storage.RateFilter{Actor: f.Actor})
		}
	}
}

func testLoginOutcomes(t *testing.T, s *storage.Store, d *demo) {
	ctx := context.Background()
	check := func(endpoint string, from, to time.Time) []storage.LoginPoint {
		t.Helper()
		type sets struct{ users, sources map[string]bool }
		by := map[time.Time]*storage.LoginPoint{}
		distinct := map[time.Time]sets{}
		for i := range d.rows {
			r := &d.rows[i]
			if r.LoginOutcome == "" || endpoint != "" && r.Endpoint != endpoint || !inMinutes(r, from, to) {
				continue
			}
			m := r.Time.Truncate(time.Minute)
			p := by[m]
			if p == nil {
				p = &storage.LoginPoint{Minute: m}
				by[m] = p
				distinct[m] = sets{map[string]bool{}, map[string]bool{}}
			}
			p.Attempts++
			switch r.LoginOutcome {
			case "success":
				p.Successes++
			case "failure":
				p.Failures++
			}
			if r.LoginUser != "" {
				distinct[m].users[r.LoginUser] = true
			}
			distinct[m].sources[string(r.ClientIP[:])] = true
			p.Usernames, p.Sources = uint64(len(distinct[m].users)), uint64(len(distinct[m].sources))
		}
		var want []storage.LoginPoint
		for _, m := range slices.SortedFunc(maps.Keys(by), time.Time.Compare) {
			want = append(want, *by[m])
		}
		got, err := s.LoginOutcomes(ctx, endpoint, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LoginOutcomes(%q, %v, %v):\n got %+v\nwant %+v", endpoint, from, to, got, want)
		}
		return got
	}
	all := check("", time.Time{}, time.Time{})
	var failures uint64
	for _, p := range all {
		failures += p.Failures
	}
	if failures < 100 {
		t.Errorf("%d failed logins: the demo has stuffing", failures)
	}
	check("POST auth.example.com /auth/login", time.Time{}, time.Time{})
	check("POST auth.example.com /auth/login", time.Date(2026, 3, 2, 9, 4, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 6, 0, 0, time.UTC))
	if got := check(oldEndpoint, time.Time{}, time.Time{}); len(got) != 3 { // 23:58, 23:59, 00:00
		t.Errorf("the day before's logins in %d minutes, want 3", len(got))
	}
	check("", time.Date(2026, 3, 1, 23, 59, 0, 1, time.UTC), time.Date(2026, 3, 2, 9, 3, 0, 0, time.UTC))
}

// TestFindingsLatest: a finding is selected by its latest version only,
// not by an older one that matched.
func TestFindingsLatest(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	w := s.FindingWriter(storage.WriterConfig{})
	f := finding.Finding{ID: "f1", Version: 1, Detector: finding.Enumeration, Kind: "sequential_ids", Severity: finding.High,
		Endpoint: "GET h /u/{id}", Actor: "a1", ClientIPs: []string{"203.0.113.5"}, FirstSeen: finding.Time{Time: t0}, LastSeen: finding.Time{Time: t0},
		DetectedAt: finding.Time{Time: t0}, Counts: map[string]int64{"events": 3}, Summary: "first"}
	w.Add(f)
	f.Version, f.Severity, f.LastSeen.Time, f.Counts = 2, finding.Critical, t0.Add(time.Minute), map[string]int64{"events": 9}
	w.Add(f)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Findings(ctx, storage.FindingFilter{Severities: []string{"high"}}); err != nil || len(got) != 0 {
		t.Errorf("severity high: %+v (%v), want none: the finding is critical now", got, err)
	}
	got, err := s.Findings(ctx, storage.FindingFilter{Severities: []string{"critical"}, From: t0.Add(30 * time.Second)})
	if err != nil || len(got) != 1 || got[0].Version != 2 || got[0].Counts["events"] != 9 {
		t.Errorf("severity critical, from the version 2 range: %+v (%v), want version 2", got, err)
	}
	// The only event is from the finding's address, as a different actor.
	ew := s.EventWriter(storage.WriterConfig{})
	e := testEvent(0)
	e.ClientIp, e.Request.Endpoint = "203.0.113.5", f.Endpoint
	ew.Add(storage.NewEventRow(e))
	if err := ew.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, events, err := s.Finding(ctx, "f1")
	want := []storage.EventSummary{{Time: time.Unix(0, e.RequestStartNs).UTC(), ClientIP: "203.0.113.5", Method: "GET", Path: "/v1/users/7",
		Status: 200, ResponseBytes: 512, Records: 1, ActorID: "actor-1", SensitiveClasses: []string{"email"}}}
	if err != nil || !reflect.DeepEqual(events, want) {
		t.Errorf("Finding f1 events: %+v (%v), want %+v", events, err, want)
	}
}

func TestDropPartitionsBefore(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	days := []time.Time{
		time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
	}
	ew := s.EventWriter(storage.WriterConfig{})
	fw := s.FindingWriter(storage.WriterConfig{})
	for _, day := range days {
		for i := range 5 {
			e := testEvent(i)
			e.RequestStartNs = day.Add(time.Duration(i) * time.Millisecond).UnixNano()
			ew.Add(storage.NewEventRow(e))
		}
		fw.Add(finding.Finding{ID: "f-" + day.Format(time.DateOnly), Version: 1, Detector: finding.Enumeration, Kind: "sequential_ids",
			Severity: finding.High, Endpoint: "GET api.example.com /v1/users/{id}", ClientIPs: []string{"10.0.0.7"},
			FirstSeen: finding.Time{Time: day}, LastSeen: finding.Time{Time: day}, DetectedAt: finding.Time{Time: day}})
	}
	if err := errors.Join(ew.Close(ctx), fw.Close(ctx)); err != nil {
		t.Fatal(err)
	}
	partitions := func(table string) []string {
		t.Helper()
		rows, err := s.Conn().Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition", s.Database(), table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	if p := strings.Join(partitions("events"), " "); p != "2026-02-28 2026-03-01 2026-03-02" {
		t.Fatalf("events partitions %q", p)
	}
	drop := func(table string, before time.Time, want int, left string) {
		t.Helper()
		n, err := s.DropPartitionsBefore(ctx, table, before)
		if err != nil || n != want {
			t.Errorf("DropPartitionsBefore(%s, %v): %d (%v), want %d", table, before, n, err, want)
		}
		if p := strings.Join(partitions(table), " "); p != left {
			t.Errorf("%s partitions after dropping before %v: %q, want %q", table, before, p, left)
		}
	}
	// A day goes once it has ended: 03-01 ends at 03-02 00:00.
	drop("events", time.Date(2026, 3, 1, 23, 59, 59, 999999999, time.UTC), 1, "2026-03-01 2026-03-02")
	drop("events", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), 1, "2026-03-02")
	drop("events", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), 0, "2026-03-02")
	drop("rollup_minute", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), 2, "2026-03-02")
	drop("findings", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1, "2026-03-01 2026-03-02")
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM `"+s.Database()+"`.events").Scan(&n); err != nil || n != 5 {
		t.Errorf("%d events left (%v), want the 5 of 03-02", n, err)
	}
	if r, err := s.Rates(ctx, storage.RateFilter{}); err != nil || len(r) != 1 || r[0].Requests != 5 {
		t.Errorf("rates after retention: %+v (%v), want 5 requests at 03-02 00:00", r, err)
	}
	if f, err := s.Findings(ctx, storage.FindingFilter{}); err != nil || len(f) != 2 || f[0].ID != "f-2026-03-02" || f[1].ID != "f-2026-03-01" {
		t.Errorf("findings after retention: %d (%v)", len(f), err)
	}
	// The inventory keeps its history.
	if inv, err := s.Inventory(ctx, time.Time{}, time.Time{}); err != nil || len(inv) != 1 || inv[0].Calls != 15 {
		t.Errorf("inventory after retention: %+v (%v)", inv, err)
	}
	for _, table := range []string{"endpoints", "baselines", "schema_migrations", "events; DROP TABLE x", ""} {
		if _, err := s.DropPartitionsBefore(ctx, table, time.Now()); err == nil || !strings.Contains(err.Error(), "not partitioned by day") {
			t.Errorf("DropPartitionsBefore(%q): %v, want a refusal", table, err)
		}
	}
}
