package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog/log"

	"github.com/apiwatch/apiwatch/event"
)

const (
	demo        = "../../testdata/demo.pcap.gz"
	attacksDemo = "../../testdata/attacks-demo.pcap.gz"
)

// runCLI runs apiwatch with args and returns its standard output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// runCLIContext runs apiwatch with args until it ends or ctx does.
func runCLIContext(ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// captureLogs sends the logs of the rest of the test to a file and
// returns a function reading what was logged.
func captureLogs(t *testing.T) func() string {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, global := os.Stderr, log.Logger
	os.Stderr, log.Logger = f, log.Output(f)
	t.Cleanup(func() { os.Stderr, log.Logger = stderr, global; f.Close() })
	return func() string {
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
}

// truth is the ground truth the generator wrote beside the demo capture.
type truth struct {
	Requests  int            `json:"requests"`
	Responses int            `json:"responses"`
	Methods   map[string]int `json:"methods"`
	Endpoints map[string]int `json:"endpoints"` // "GET /api/v1/users/{id}": calls
	Statuses  map[string]int `json:"statuses"`
}

func readTruth(t *testing.T) truth {
	t.Helper()
	b, err := os.ReadFile(demo + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestAnalyzeDemo is the README's quick start: every transaction of the
// demo capture comes out, as the generator recorded them, with no loss.
func TestAnalyzeDemo(t *testing.T) {
	tr := readTruth(t)
	for _, workers := range []string{"1", "2"} {
		t.Run("workers="+workers, func(t *testing.T) {
			events := filepath.Join(t.TempDir(), "events.jsonl")
			out, err := runCLI(t, "analyze", "--quiet", "--workers", workers, "--events", events, demo)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "losses and drops: none") {
				t.Errorf("summary reports losses on a clean capture:\n%s", out)
			}
			// Ordinary API use: the detectors must stay quiet.
			if !strings.Contains(out, "\nfindings: none") {
				t.Errorf("findings on benign traffic:\n%s", out)
			}
			if got := summaryCount(t, out, "transactions"); got != tr.Requests {
				t.Errorf("summary: %d transactions, truth %d", got, tr.Requests)
			}

			methods, statuses, endpoints := map[string]int{}, map[string]int{}, map[string]int{}
			n := 0
			f, err := os.Open(events)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var e event.APIEvent
				if err := event.UnmarshalJSON(sc.Bytes(), &e); err != nil {
					t.Fatalf("event %d: %v", n+1, err)
				}
				n++
				if e.Request == nil || e.Response == nil || len(e.Quality) > 0 {
					t.Errorf("incomplete transaction in a clean capture: %s", sc.Text())
					continue
				}
				methods[e.Request.Method]++
				endpoints[e.Request.Method+" "+e.Request.Template]++
				statuses[strconv.Itoa(int(e.Response.Status))]++
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n != tr.Requests {
				t.Errorf("%d events, truth has %d requests", n, tr.Requests)
			}
			assertCounts(t, "methods", methods, tr.Methods)
			assertCounts(t, "statuses", statuses, tr.Statuses)
			// Every path of the generator's templates comes out as that
			// template (the generator names UUID positions {uuid}; apiwatch
			// shows every identifier as {id}).
			want := map[string]int{}
			for k, v := range tr.Endpoints {
				want[strings.ReplaceAll(k, "{uuid}", "{id}")] += v
			}
			assertCounts(t, "endpoints", endpoints, want)
		})
	}
}

func summaryCount(t *testing.T, out, label string) int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == label {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("summary line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("summary has no %q line:\n%s", label, out)
	return 0
}

func assertCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s[%s] = %d, truth %d", what, k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s[%s] = %d, not in truth", what, k, g)
		}
	}
}

// TestAnalyzeReproducible: runs over one capture with several workers give
// the same events, in the same order, and the same findings. Each worker
// samples bodies from the connections it sees, so connections are sharded
// by a fixed key; the workers' events reach the detector and the event file
// in capture order, whatever the workers' pace. Without a deployment secret
// the hashes in events and findings differ from run to run (the secret is
// random), nothing else does.
func TestAnalyzeReproducible(t *testing.T) {
	lines := func(path string) iter.Seq[string] {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Lines(string(b))
	}
	run := func(workers string) (events, findings []string) {
		dir := t.TempDir()
		evPath, fPath := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "findings.jsonl")
		if _, err := runCLI(t, "analyze", "--quiet", "--workers", workers, "--events", evPath, "--findings", fPath, attacksDemo); err != nil {
			t.Fatal(err)
		}
		for line := range lines(evPath) {
			var e event.APIEvent
			if err := event.UnmarshalJSON([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			// protojson varies its spacing between runs: compare the
			// events, not their text.
			c, _ := json.Marshal(&e)
			events = append(events, string(c))
		}
		for line := range lines(fPath) {
			var f struct {
				Detector, Kind, Endpoint, Summary string
				ClientIPs                         []string `json:"client_ips"`
				FirstSeen, LastSeen, DetectedAt   time.Time
				Counts                            map[string]float64
			}
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatal(err)
			}
			c, _ := json.Marshal(f)
			findings = append(findings, string(c))
		}
		return events, findings
	}
	same := func(what string, a, b []string) {
		t.Helper()
		differ := 0
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				differ++
			}
		}
		if differ > 0 || len(a) != len(b) {
			t.Errorf("%s: %d and %d, %d of them different", what, len(a), len(b), differ)
		}
	}

	t.Setenv("APIWATCH_SECRET", "reproducible")
	ev1, f1 := run("2")
	ev2, f2 := run("2")
	if len(ev1) < 6000 || len(f1) < 10 {
		t.Fatalf("%d events and %d findings from the attacks demo", len(ev1), len(f1))
	}
	same("events of two runs", ev1, ev2)
	same("findings of two runs", f1, f2)

	t.Setenv("APIWATCH_SECRET", "")
	_, f4 := run("2")
	_, f5 := run("2")
	same("findings of two runs without a secret", f4, f5)
}

// TestAnalyzeBadInput: wrong input gets an error that says what to do, and
// a damaged capture is analyzed up to the damage.
func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no input", []string{"analyze"}, "nothing to analyze"},
		{"missing file", []string{"analyze", filepath.Join(dir, "nope.pcap")}, "no such file"},
		{"not a capture", []string{"analyze", garbage}, "not a pcap or pcapng"},
		{"files and iface", []string{"analyze", "--iface", "lo", demo}, "not both"},
	} {
		_, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}

	// The demo capture cut in the middle of a packet: what came before is
	// analyzed and the damage is counted, not fatal.
	raw := gunzip(t, demo)
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, raw[:len(raw)/2+7], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "analyze", "--quiet", cut)
	if err != nil {
		t.Fatalf("truncated capture: %v", err)
	}
	if !strings.Contains(out, "input.truncated_files") {
		t.Errorf("summary does not count the truncated file:\n%s", out)
	}
	if n := summaryCount(t, out, "transactions"); n < readTruth(t).Requests/3 {
		t.Errorf("only %d transactions from the first half of the capture", n)
	}
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEndpointsCommand: the inventory names spec templates, marks what the
// spec lacks as shadow, and shows logins, auth kinds and sensitive data.
func TestEndpointsCommand(t *testing.T) {
	t.Setenv("APIWATCH_SECRET", "test")
	out, err := runCLI(t, "endpoints", "--openapi", "testdata/demo-api.yaml", demo)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows[strings.Join(f[:3], " ")] = line
		}
	}
	for endpoint, want := range map[string][]string{
		"GET api.example.com /api/v1/users/{userId}":   {"jwt×", "email×", "phone×"},
		"GET api.example.com /api/v1/orders/{orderId}": {"200×"},
		"POST api.example.com /auth/login":             {"login ("},
		"GET api.example.com /api/v2/search":           {"shadow (not in spec)"},
		"HEAD api.example.com /api/v1/health":          {"shadow (not in spec)"},
	} {
		row, ok := rows[endpoint]
		if !ok {
			t.Errorf("no row for %s:\n%s", endpoint, out)
			continue
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("%s: row lacks %q: %s", endpoint, w, row)
			}
		}
		if !strings.Contains(endpoint, "search") && !strings.Contains(endpoint, "health") && strings.Contains(row, "shadow") {
			t.Errorf("%s is in the spec but marked shadow: %s", endpoint, row)
		}
	}
}
