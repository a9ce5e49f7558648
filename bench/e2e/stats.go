package main

// The pure parts: percentiles, an episode's latency from the times
// measured, and the bottleneck from the CPU and event counts measured.

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/evaluation"
	"github.com/apiwatch/apiwatch/finding"
)

// missed stands for the latency of an episode that was not found: worse
// than any measured one, so it counts against the percentiles.
const missed = time.Duration(math.MaxInt64)

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of ds: the
// smallest value at least p% of the values are at or below. ds need not
// be sorted; 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// episodeLatency is how fast one episode reached ClickHouse in one run.
type episodeLatency struct {
	ID    string
	Found bool
	// FindingID is the episode's finding that was readable first.
	FindingID string
	// Total is the measure of issue 6: from the wall time the episode's
	// first request went by (W0 + its offset in the capture) to the wall
	// time its first finding was readable in ClickHouse.
	Total time.Duration
	// Detect is the capture time from the episode's first request to the
	// event that made that finding fire (finding.DetectedAt): how much
	// attack traffic the detector needed, the same whatever the speed of
	// the pipeline.
	Detect time.Duration
	// Pipeline is the rest, Total − Detect: from the wall time the
	// triggering event went by to the finding's row.
	Pipeline time.Duration
}

// wallOf maps a capture time to the wall time it went by during a paced
// replay started at w0 whose first packet has capture time t0.
func wallOf(capture, t0, w0 time.Time) time.Time { return w0.Add(capture.Sub(t0)) }

// latencyOf measures one evaluated episode: appeared holds the wall time
// each finding id was first readable, byID the findings as stored.
// Without a finding that was seen, the episode is not found.
func latencyOf(ep evaluation.EpisodeResult, byID map[string]*finding.Finding, appeared map[string]time.Time, t0, w0 time.Time) episodeLatency {
	l := episodeLatency{ID: ep.ID}
	var first time.Time
	for _, id := range ep.Findings {
		at, ok := appeared[id]
		f := byID[id]
		if !ok || f == nil {
			continue
		}
		// The first readable; of two read by the same poll, the one that
		// fired first.
		if !l.Found || at.Before(first) || at.Equal(first) && f.DetectedAt.Before(byID[l.FindingID].DetectedAt.Time) {
			l.Found, l.FindingID, first = true, id, at
		}
	}
	if !l.Found {
		return l
	}
	l.Total = first.Sub(wallOf(ep.Start, t0, w0))
	l.Detect = byID[l.FindingID].DetectedAt.Sub(ep.Start)
	l.Pipeline = l.Total - l.Detect
	return l
}

// summary is p50, p99 and max of latencies, missed ones included (as
// missed).
type summary struct {
	N, Missed     int
	P50, P99, Max time.Duration
}

func summarize(ds []time.Duration) summary {
	s := summary{N: len(ds)}
	for _, d := range ds {
		if d == missed {
			s.Missed++
		}
	}
	if len(ds) > 0 {
		s.P50, s.P99, s.Max = percentile(ds, 50), percentile(ds, 99), slices.Max(ds)
	}
	return s
}

// fmtDur prints a latency in seconds ("missed" for a missed episode).
func fmtDur(d time.Duration) string {
	if d == missed {
		return "missed"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// Components of the stack, in the order of the CPU columns.
const (
	cSensor = iota
	cBroker
	cDetector
	cClickHouse
	// cOthers is the rest of the machine's busy CPU: other processes,
	// the kernel's interrupts and the hypervisor's steal.
	cOthers
	nComponents
)

var componentNames = [nComponents]string{"sensor", "broker", "detector", "clickhouse", "others"}

// phaseCPU is CPU seconds per component over a phase of wall time; a
// negative value is unknown.
type phaseCPU struct {
	Wall time.Duration
	CPU  [nComponents]float64
}

// cores is component i's CPU over the phase in cores (1 = one core busy
// the whole phase); -1 when unknown.
func (p phaseCPU) cores(i int) float64 {
	if p.CPU[i] < 0 || p.Wall <= 0 {
		return -1
	}
	return p.CPU[i] / p.Wall.Seconds()
}

// total is the known components' CPU over the phase, in cores.
func (p phaseCPU) total() float64 {
	var t float64
	for i := range p.CPU {
		t += max(p.cores(i), 0)
	}
	return t
}

// stage is one stage of the stack measured on its own: the events it
// passed over a wall time, and the CPU of the processes doing it.
type stage struct {
	Name   string
	Events int64
	Wall   time.Duration
	CPU    phaseCPU // over Wall
	Procs  []int    // the components doing this stage
}

func (s stage) rate() float64 { return float64(s.Events) / s.Wall.Seconds() }

// busy lists the stage's processes' CPU in % of a core.
func (s stage) busy() string {
	var parts []string
	for _, i := range s.Procs {
		if c := s.CPU.cores(i); c >= 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", componentNames[i], 100*c))
		}
	}
	return strings.Join(parts, ", ")
}

// slowestRate is the lowest events/s of the stages measured (0: none).
func slowestRate(stages []stage) float64 {
	var r float64
	for _, s := range stages {
		if s.Wall > 0 && s.Events > 0 && (r == 0 || s.rate() < r) {
			r = s.rate()
		}
	}
	return r
}

// cpuBound is the share of a core above which a process counts as
// CPU-bound; a machine counts as saturated above this share of its
// cores.
const cpuBound = 0.85

// bottleneck is the stage with the fewest events per second, and whether
// it is bound by CPU (one of its processes at ~100% of a core, or the
// whole machine busy) or waits; why has one line per stage.
func bottleneck(stages []stage, ncpu int) (name string, why []string) {
	slowest := -1
	for i, s := range stages {
		if s.Wall <= 0 || s.Events <= 0 {
			continue
		}
		why = append(why, fmt.Sprintf("%-46s %9.0f events/s (%d events in %.2fs; CPU, %% of a core: %s; machine %.2f of %d cores)",
			s.Name+":", s.rate(), s.Events, s.Wall.Seconds(), s.busy(), s.CPU.total(), ncpu))
		if slowest < 0 || s.rate() < stages[slowest].rate() {
			slowest = i
		}
	}
	if slowest < 0 {
		return "unknown (no stage measured)", why
	}
	s := stages[slowest]
	top, topCores := -1, -1.0
	for _, i := range s.Procs {
		if c := s.CPU.cores(i); c > topCores {
			top, topCores = i, c
		}
	}
	switch {
	case top < 0:
		name = fmt.Sprintf("%s (%.0f events/s; CPU not measured)", s.Name, s.rate())
	case ncpu > 0 && s.CPU.total() >= cpuBound*float64(ncpu):
		name = fmt.Sprintf("%s (%.0f events/s): CPU-bound, the machine's %d cores are busy (%.2f; %s the most, %.0f%% of a core)",
			s.Name, s.rate(), ncpu, s.CPU.total(), componentNames[top], 100*topCores)
	case topCores >= cpuBound:
		name = fmt.Sprintf("%s (%.0f events/s): CPU-bound, %s at %.0f%% of a core", s.Name, s.rate(), componentNames[top], 100*topCores)
	default:
		name = fmt.Sprintf("%s (%.0f events/s): not CPU-bound (%s; machine %.2f of %d cores): it waits on round trips or timers",
			s.Name, s.rate(), s.busy(), s.CPU.total(), ncpu)
	}
	return name, why
}
