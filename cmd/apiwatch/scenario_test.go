package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/evaluation"
	"github.com/apiwatch/apiwatch/internal/trafficgen"
)

// TestScenarios generates labelled traffic (internal/trafficgen) for two
// seeds, runs analyze on it as a user would, and scores the findings: every
// attack episode found within a minute of its start, no false positives,
// and nothing at all on the benign scenario, which has the same legitimate
// heavy users (a sync job, polling clients, a flash crowd, mistyped
// passwords).
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and analyses 4 captures of 12 minutes")
	}
	t.Setenv("APIWATCH_SECRET", "scenario-test")
	for _, seed := range []uint64{1, 2} {
		for _, scenario := range []string{"benign", "attacks"} {
			cfg := trafficgen.DefaultConfig()
			cfg.Seed, cfg.Scenario = seed, scenario
			dir := t.TempDir()
			capture := filepath.Join(dir, scenario+".pcap")
			if _, err := trafficgen.WriteFiles(capture, cfg); err != nil {
				t.Fatal(err)
			}
			findings := filepath.Join(dir, "findings.jsonl")
			if _, err := runCLI(t, "analyze", "--quiet", "--findings", findings, capture); err != nil {
				t.Fatal(err)
			}
			r := evaluate(t, capture+".truth.json", findings)
			t.Logf("seed %d %s: recall %.2f precision %.2f, %d findings", seed, scenario, r.Recall(), r.Precision(), r.Findings)
			if scenario == "benign" && r.Findings != 0 {
				t.Errorf("seed %d benign: %d findings, want none: %+v", seed, r.Findings, r.FalsePositives[0].Finding)
			}
			for _, e := range r.Episodes {
				if !e.Found || e.TimeToDetect > time.Minute {
					t.Errorf("seed %d %s: found %v after %s", seed, e.ID, e.Found, e.TimeToDetect)
				}
			}
			for _, fp := range r.FalsePositives {
				t.Errorf("seed %d %s: false positive (%s): %s", seed, scenario, fp.Cause, fp.Finding.Summary)
			}
		}
	}
}

// TestAttacksDemo checks the quick start: the bundled capture's findings
// cover every labelled episode, and nothing else.
func TestAttacksDemo(t *testing.T) {
	findings := filepath.Join(t.TempDir(), "findings.jsonl")
	out, err := runCLI(t, "analyze", "--findings", findings, attacksDemo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "findings: 11\n") {
		t.Errorf("findings table:\n%s", out)
	}
	r := evaluate(t, "../../testdata/attacks-demo.pcap.gz.truth.json", findings)
	if r.Recall() != 1 || r.Precision() != 1 {
		var b strings.Builder
		r.Write(&b)
		t.Errorf("bundled attacks capture:\n%s", b.String())
	}
}

// TestAttackCaptures runs analyze on the captures of real attack tools
// (hydra, ffuf) against a real API server (testdata/attacks, made by
// scripts/attack-captures.sh) and scores them against their ground truth.
func TestAttackCaptures(t *testing.T) {
	captures, err := filepath.Glob("../../testdata/attacks/*.pcap.gz")
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata/attacks (%v)", err)
	}
	for _, c := range captures {
		name := strings.TrimSuffix(filepath.Base(c), ".pcap.gz")
		t.Run(name, func(t *testing.T) {
			findings := filepath.Join(t.TempDir(), "findings.jsonl")
			if _, err := runCLI(t, "analyze", "--quiet", "--findings", findings, c); err != nil {
				t.Fatal(err)
			}
			r := evaluate(t, strings.TrimSuffix(c, ".pcap.gz")+".truth.json", findings)
			var b strings.Builder
			r.Write(&b)
			t.Logf("%s:\n%s", name, b.String())
			for _, e := range r.Episodes {
				if !e.Found || e.TimeToDetect > time.Minute {
					t.Errorf("%s: found %v after %s", e.ID, e.Found, e.TimeToDetect)
				}
			}
			for _, fp := range r.FalsePositives {
				t.Errorf("false positive: %s", fp.Finding.Summary)
			}
		})
	}
}

func evaluate(t *testing.T, truthPath, findingsPath string) *evaluation.Report {
	t.Helper()
	truth, err := evaluation.ReadTruthFile(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := evaluation.ReadFindingsFile(findingsPath)
	if err != nil {
		t.Fatal(err)
	}
	return evaluation.Evaluate(truth, fs)
}
