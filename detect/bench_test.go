package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/event"
)

// benchEvents is a realistic mix: 2000 actors over 12 endpoints reading
// objects (a few with UUID-like hashes), 1 in 16 responses analysed with a
// shape and sensitive counts, 1 in 50 events a login.
func benchEvents(n int) []*event.APIEvent {
	endpoints := make([]string, 12)
	for i := range endpoints {
		endpoints[i] = fmt.Sprintf("GET api.example.com /v1/resource%d/{id}", i)
	}
	out := make([]*event.APIEvent, n)
	for i := range out {
		a := (i * 7919) % 2000
		e := withObject(ev(time.Duration(i)*2*time.Millisecond, endpoints[i%len(endpoints)], fmt.Sprintf("actor-%d", a),
			fmt.Sprintf("10.1.%d.%d", a/250, a%250), 200), uint64(a*10+i%5))
		if i%4 == 0 {
			e.ObjectIds = append(e.ObjectIds, &event.ObjectID{Param: "order", Value: &event.ObjectID_Hash{Hash: fmt.Sprintf("%032x", i%5000)}})
		}
		if i%16 == 0 {
			e.Response.BodyAnalyzed = true
			e.Response.Shape = &event.Shape{FieldPaths: []string{"id", "name", "email", "address.city"}, Records: int64(1 + i%20)}
			e.Response.Sensitive = []*event.SensitiveCount{{Class: event.SensitiveClass_SENSITIVE_CLASS_EMAIL, Count: 1}}
		}
		if i%50 == 0 {
			e = login(ev(time.Duration(i)*2*time.Millisecond, loginEP, "", fmt.Sprintf("10.1.%d.%d", a/250, a%250), 401),
				fmt.Sprintf("user-%d", a), i%100 != 0)
		}
		out[i] = e
	}
	return out
}

// BenchmarkProcess is the detector alone (baselines and all detectors) on
// pre-decoded events; the target is 500k events/s on one core:
//
//	go test -run '^$' -bench Process -cpu 1 ./detect/
func BenchmarkProcess(b *testing.B) {
	events := benchEvents(100000)
	span := events[len(events)-1].RequestStartNs - events[0].RequestStartNs + int64(time.Millisecond)
	d := New(Config{}, baseline.New(baseline.Config{}))
	b.ReportAllocs()
	i, round := 0, int64(0)
	for b.Loop() {
		e := events[i]
		e.RequestStartNs += round * span
		d.Process(e)
		e.RequestStartNs -= round * span
		if i++; i == len(events) {
			i, round = 0, round+1
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
