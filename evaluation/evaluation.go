// Package evaluation scores findings against the ground truth of labelled
// traffic (bench/gencap scenarios, testdata/attacks captures): which attack
// episodes were found and how fast, and which findings were false alarms.
package evaluation

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/apiwatch/apiwatch/finding"
)

// Label marks traffic in a ground-truth file: an attack episode (with the
// detector that should find it) or a legitimate heavy user (no detector:
// findings about it are false positives with a known cause).
type Label struct {
	ID        string    `json:"id,omitempty"`
	Detector  string    `json:"detector,omitempty"`
	Kind      string    `json:"kind"`
	Endpoint  string    `json:"endpoint"`
	ClientIPs []string  `json:"client_ips"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// Truth is the part of a ground-truth file evaluation reads.
type Truth struct {
	Scenario   string  `json:"scenario"`
	Episodes   []Label `json:"episodes"`
	HeavyUsers []Label `json:"heavy_users"`
}

// ReadTruth reads a ground-truth file.
func ReadTruth(r io.Reader) (*Truth, error) {
	var t Truth
	if err := json.NewDecoder(r).Decode(&t); err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	return &t, nil
}

// ReadFindings reads findings as analyze --findings writes them.
func ReadFindings(r io.Reader) ([]finding.Finding, error) {
	var out []finding.Finding
	dec := json.NewDecoder(r)
	for {
		var f finding.Finding
		err := dec.Decode(&f)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("findings line %d: %w", len(out)+1, err)
		}
		out = append(out, f)
	}
}

// ReadTruthFile reads the ground-truth file at path.
func ReadTruthFile(path string) (*Truth, error) { return readFile(path, ReadTruth) }

// ReadFindingsFile reads the findings file at path.
func ReadFindingsFile(path string) ([]finding.Finding, error) { return readFile(path, ReadFindings) }

func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return read(bufio.NewReader(f))
}

// Slack is how far outside an episode's time range a finding may start
// and still be about it (windows straddle the episode's edges).
const Slack = time.Minute

// EpisodeResult is how one episode was found.
type EpisodeResult struct {
	Label
	Found bool
	// TimeToDetect is from the episode's start to the first matching
	// finding's detection (negative never: clamped at 0).
	TimeToDetect time.Duration
	Findings     []string // ids
}

// FalsePositive is a finding that matches no episode, with the labelled
// heavy user it concerns, if any.
type FalsePositive struct {
	Finding *finding.Finding
	Cause   string
}

// Report is an evaluation.
type Report struct {
	Episodes       []EpisodeResult
	FalsePositives []FalsePositive
	Findings       int
}

// Recall is the share of episodes found (1 when there are none).
func (r *Report) Recall() float64 {
	if len(r.Episodes) == 0 {
		return 1
	}
	n := 0
	for _, e := range r.Episodes {
		if e.Found {
			n++
		}
	}
	return float64(n) / float64(len(r.Episodes))
}

// Precision is the share of findings that match an episode (1 when there
// are no findings).
func (r *Report) Precision() float64 {
	if r.Findings == 0 {
		return 1
	}
	return float64(r.Findings-len(r.FalsePositives)) / float64(r.Findings)
}

// Evaluate matches findings to episodes: same detector and endpoint, a
// client address in common, and overlapping time (with Slack).
func Evaluate(t *Truth, findings []finding.Finding) *Report {
	r := &Report{Findings: len(findings)}
	matched := make([]bool, len(findings))
	for _, ep := range t.Episodes {
		res := EpisodeResult{Label: ep}
		for i := range findings {
			f := &findings[i]
			if !about(f, ep.Detector, ep.Endpoint, ep.ClientIPs, ep.Start, ep.End) {
				continue
			}
			matched[i] = true
			ttd := max(f.DetectedAt.Sub(ep.Start), 0)
			if !res.Found || ttd < res.TimeToDetect {
				res.TimeToDetect = ttd
			}
			res.Found = true
			res.Findings = append(res.Findings, f.ID)
		}
		r.Episodes = append(r.Episodes, res)
	}
	for i := range findings {
		if matched[i] {
			continue
		}
		fp := FalsePositive{Finding: &findings[i]}
		for _, h := range t.HeavyUsers {
			if about(&findings[i], "", "", h.ClientIPs, h.Start, h.End) {
				fp.Cause = h.Kind
				break
			}
		}
		r.FalsePositives = append(r.FalsePositives, fp)
	}
	sort.Slice(r.Episodes, func(i, j int) bool { return r.Episodes[i].Start.Before(r.Episodes[j].Start) })
	return r
}

// about reports whether f concerns the given detector ("" any), endpoint
// ("" any), addresses and time range.
func about(f *finding.Finding, detector, endpoint string, ips []string, start, end time.Time) bool {
	if detector != "" && f.Detector != detector || endpoint != "" && f.Endpoint != endpoint {
		return false
	}
	if f.FirstSeen.After(end.Add(Slack)) || f.LastSeen.Before(start.Add(-Slack)) {
		return false
	}
	for _, ip := range f.ClientIPs {
		if slices.Contains(ips, ip) {
			return true
		}
	}
	return false
}

// Write prints the report as a table.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "%-34s %-20s %-6s %-14s %s\n", "EPISODE", "DETECTOR", "FOUND", "TIME-TO-DETECT", "FINDINGS")
	for _, e := range r.Episodes {
		ttd := "-"
		if e.Found {
			ttd = e.TimeToDetect.Round(time.Second).String()
		}
		fmt.Fprintf(w, "%-34s %-20s %-6v %-14s %d\n", e.ID, e.Detector, e.Found, ttd, len(e.Findings))
	}
	for _, fp := range r.FalsePositives {
		cause := fp.Cause
		if cause == "" {
			cause = "unlabelled traffic"
		}
		fmt.Fprintf(w, "false positive: %s %s on %s (%s): %s\n", fp.Finding.Detector, fp.Finding.Kind, fp.Finding.Endpoint, cause, fp.Finding.Summary)
	}
	fmt.Fprintf(w, "recall %.2f (%d episodes), precision %.2f (%d findings, %d false positives)\n",
		r.Recall(), len(r.Episodes), r.Precision(), r.Findings, len(r.FalsePositives))
}
