package main

import (
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/evaluation"
	"github.com/apiwatch/apiwatch/finding"
)

func secs(xs ...float64) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x * float64(time.Second))
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	ten := secs(10, 1, 9, 2, 8, 3, 7, 4, 6, 5) // unsorted on purpose
	for _, c := range []struct {
		ds   []time.Duration
		p    float64
		want float64
	}{
		{ten, 50, 5}, {ten, 90, 9}, {ten, 99, 10}, {ten, 100, 10}, {ten, 10, 1}, {ten, 1, 1},
		{secs(3), 50, 3}, {secs(3), 99, 3},
		{secs(1, 2), 50, 1}, {secs(1, 2), 51, 2},
		{nil, 99, 0},
	} {
		if got := percentile(c.ds, c.p); got != secs(c.want)[0] {
			t.Errorf("percentile(%v, %v) = %v, want %vs", c.ds, c.p, got, c.want)
		}
	}
	if ten[0] != 10*time.Second {
		t.Error("percentile sorted its argument in place")
	}
	// p99 of 100 values is the 99th, of 27 the largest.
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	if got := percentile(hundred, 99); got != 99*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v", got)
	}
	if got := percentile(hundred[:27], 99); got != 27*time.Millisecond {
		t.Errorf("p99 of 1..27 ms = %v", got)
	}
}

func TestSummarizeCountsMissedAsFailures(t *testing.T) {
	s := summarize(append(secs(1, 2, 3), missed))
	if s.N != 4 || s.Missed != 1 || s.P50 != 2*time.Second || s.P99 != missed || s.Max != missed {
		t.Errorf("summary = %+v", s)
	}
	if fmtDur(s.P99) != "missed" || fmtDur(1500*time.Millisecond) != "1.50s" {
		t.Errorf("fmtDur: %q %q", fmtDur(s.P99), fmtDur(1500*time.Millisecond))
	}
}

func TestLatencyOf(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // the capture's first packet
	w0 := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return w0.Add(time.Duration(s * float64(time.Second))) }
	capt := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	fd := func(id string, detected float64) *finding.Finding {
		return &finding.Finding{ID: id, DetectedAt: finding.Time{Time: capt(detected)}}
	}
	ep := evaluation.EpisodeResult{Label: evaluation.Label{ID: "enum", Start: capt(100)}, Found: true, Findings: []string{"a", "b", "c"}}
	byID := map[string]*finding.Finding{"a": fd("a", 130), "b": fd("b", 118), "c": fd("c", 150)}

	// b fired first (capture 118 s) and was readable first (wall 119.5 s):
	// 18 s of attack traffic, then 1.5 s through the pipeline.
	appeared := map[string]time.Time{"a": at(131), "b": at(119.5), "c": at(151)}
	l := latencyOf(ep, byID, appeared, t0, w0)
	if !l.Found || l.FindingID != "b" || l.Total != 19500*time.Millisecond || l.Detect != 18*time.Second || l.Pipeline != 1500*time.Millisecond {
		t.Errorf("latency = %+v", l)
	}

	// The first readable counts, even when another fired earlier.
	appeared = map[string]time.Time{"a": at(131), "b": at(140)}
	l = latencyOf(ep, byID, appeared, t0, w0)
	if l.FindingID != "a" || l.Total != 31*time.Second || l.Detect != 30*time.Second || l.Pipeline != time.Second {
		t.Errorf("latency = %+v", l)
	}

	// Read by the same poll: the one that fired first.
	appeared = map[string]time.Time{"a": at(151), "b": at(151), "c": at(151)}
	if l = latencyOf(ep, byID, appeared, t0, w0); l.FindingID != "b" || l.Pipeline != 33*time.Second {
		t.Errorf("latency = %+v", l)
	}

	// Findings the poller never saw, or an episode without findings: not
	// found.
	if l = latencyOf(ep, byID, map[string]time.Time{}, t0, w0); l.Found {
		t.Errorf("found without an appearance: %+v", l)
	}
	if l = latencyOf(evaluation.EpisodeResult{Label: ep.Label}, byID, appeared, t0, w0); l.Found || l.ID != "enum" {
		t.Errorf("found without findings: %+v", l)
	}
}

func TestWallOf(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w0 := time.Unix(5000, 0)
	if got := wallOf(time.Unix(1042, 500), t0, w0); !got.Equal(time.Unix(5042, 500)) {
		t.Errorf("wallOf = %v", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250, stime 50.
	stat := "1234 (my (proc) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 1000 10"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3 {
		t.Errorf("parseStatCPU = %v, %v; want 3", got, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Error("parseStatCPU accepted garbage")
	}
}

func TestParseMachineBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineBusy("cpu  1000 10 200 5000 300 5 15 20 100 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n")
	if err != nil || got != 12.5 {
		t.Errorf("parseMachineBusy = %v, %v; want 12.5", got, err)
	}
}

func TestPhaseOthers(t *testing.T) {
	// The machine was busy 10 s, the stack 6 s of it (the detector not
	// measured): the others 4 s.
	p := phase([nComponents]float64{0, 1, -1, 2, 100}, [nComponents]float64{3, 2, -1, 4, 110}, 5*time.Second)
	if p.CPU != [nComponents]float64{3, 1, -1, 2, 4} || p.cores(cOthers) != 0.8 || p.total() != 2 {
		t.Errorf("phase = %+v, others %v cores, total %v", p.CPU, p.cores(cOthers), p.total())
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP x y\n# TYPE x counter\napiwatch_detect_events_total 1.5e+06\n" +
		"apiwatch_detect_findings_total{detector=\"enumeration\"} 3\napiwatch_detect_consumer_lag 42\n"))
	if err != nil || m["apiwatch_detect_events_total"] != 1.5e6 || m["apiwatch_detect_consumer_lag"] != 42 || len(m) != 2 {
		t.Errorf("parseMetrics = %v, %v", m, err)
	}
}

func TestBottleneckIsTheSlowestStage(t *testing.T) {
	cpu := func(wall time.Duration, s, b, d, c float64) phaseCPU {
		return phaseCPU{Wall: wall, CPU: [nComponents]float64{s, b, d, c, 0}}
	}
	parse := stage{Name: "parse", Events: 100000, Wall: 2 * time.Second, CPU: cpu(2*time.Second, 3, 0, 0.2, 0.2), Procs: []int{cSensor}}
	send := stage{Name: "send", Events: 100000, Wall: 4 * time.Second, CPU: cpu(4*time.Second, 0.8, 0.2, 1, 1), Procs: []int{cSensor, cBroker}}
	detect := stage{Name: "detect", Events: 100000, Wall: time.Second, CPU: cpu(time.Second, -1, 0.05, 0.95, 0.5), Procs: []int{cBroker, cDetector, cClickHouse}}

	name, why := bottleneck([]stage{parse, send, detect}, 2)
	if !strings.HasPrefix(name, "send (25000 events/s): not CPU-bound") || len(why) != 3 {
		t.Errorf("bottleneck = %q, %q", name, why)
	}
	detect.Wall, detect.CPU = 8*time.Second, cpu(8*time.Second, -1, 0.4, 7.6, 6)
	if name, _ = bottleneck([]stage{parse, send, detect}, 4); !strings.HasPrefix(name, "detect (12500 events/s): CPU-bound, detector at 95% of a core") {
		t.Errorf("bottleneck = %q", name)
	}
	// The same on two cores: the machine is full.
	if name, _ = bottleneck([]stage{parse, send, detect}, 2); !strings.Contains(name, "CPU-bound, the machine's 2 cores are busy") {
		t.Errorf("bottleneck = %q", name)
	}
	if name, _ = bottleneck(nil, 2); !strings.HasPrefix(name, "unknown") {
		t.Errorf("bottleneck of nothing = %q", name)
	}
}

func TestPackageOf(t *testing.T) {
	for sym, want := range map[string]string{
		"runtime.mallocgc": "runtime",
		"github.com/apiwatch/apiwatch/baseline.(*Store).Observe":            "github.com/apiwatch/apiwatch/baseline",
		"google.golang.org/protobuf/internal/impl.(*MessageInfo).unmarshal": "google.golang.org/protobuf/internal/impl",
		"0x00000000004a1b2c": "other",
	} {
		if got := packageOf(sym, false); got != want {
			t.Errorf("packageOf(%q) = %q, want %q", sym, got, want)
		}
	}
	if packageOf("clear_page_erms", true) != "kernel" {
		t.Error("kernel symbol")
	}
}

func TestLatencyReportVerdicts(t *testing.T) {
	c := &config{root: "/m", pcap: "/m/testdata/a.pcap.gz", poll: 25 * time.Millisecond}
	run := func(n int, eps ...episodeLatency) *latencyRun {
		return &latencyRun{n: n, sent: 10, consumed: 10, episodes: eps}
	}
	ep := func(id string, detect, pipeline float64) episodeLatency {
		d, p := secs(detect, pipeline)[0], secs(detect, pipeline)[1]
		return episodeLatency{ID: id, Found: true, Detect: d, Pipeline: p, Total: d + p}
	}
	r := &report{c: c, latency: []*latencyRun{
		run(1, ep("enum", 18, 0.5), ep("stuffing", 6, 1)),
		run(2, ep("enum", 18, 0.7), episodeLatency{ID: "stuffing"}),
	}}
	var b strings.Builder
	r.writeLatency(&b)
	out := b.String()
	for _, want := range []string{
		"over 4 episode runs (1 missed, counted as failures)",
		"p50 18.50s", // of 7, 18.5, 18.7 and missed: the 2nd
		"stuffing", "missed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "FAIL") != 2 {
		t.Errorf("want both verdicts FAIL with a missed episode:\n%s", out)
	}

	r.latency[1].episodes[1] = ep("stuffing", 6, 1.2)
	b.Reset()
	r.writeLatency(&b)
	out = b.String()
	if !strings.Contains(out, "episode start -> row; issue 6's measure)  p50") || !strings.Contains(out, "target p99 < 5s: FAIL") ||
		!strings.Contains(out, "(triggering event -> row)") || strings.Count(out, "PASS") != 1 || !strings.Contains(out, "dominated by detect") {
		t.Errorf("want the total FAIL and the pipeline PASS:\n%s", out)
	}
	t.Log("\n" + out)
}
