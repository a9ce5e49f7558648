package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

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

// TestAnalyzeReproducible: with a deployment secret, two runs over one
// capture with several workers give the same events. The workers' body
// sampling depends on which connections each one sees, so the sharding is
// keyed by the secret rather than a random seed.
func TestAnalyzeReproducible(t *testing.T) {
	t.Setenv("APIWATCH_SECRET", "reproducible")
	var runs [2][]string
	for i := range runs {
		events := filepath.Join(t.TempDir(), "events.jsonl")
		if _, err := runCLI(t, "analyze", "--quiet", "--no-detect", "--workers", "2", "--events", events, attacksDemo); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(events)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			var e event.APIEvent
			if err := event.UnmarshalJSON([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			// protojson varies its spacing between runs: compare the
			// events, not their text.
			c, _ := json.Marshal(&e)
			runs[i] = append(runs[i], string(c))
		}
		slices.Sort(runs[i])
	}
	if len(runs[0]) < 6000 {
		t.Fatalf("%d events from the attacks demo", len(runs[0]))
	}
	differ := 0
	for i := range min(len(runs[0]), len(runs[1])) {
		if runs[0][i] != runs[1][i] {
			differ++
		}
	}
	if differ > 0 || len(runs[0]) != len(runs[1]) {
		t.Errorf("two runs differ: %d and %d events, %d of them different", len(runs[0]), len(runs[1]), differ)
	}
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
