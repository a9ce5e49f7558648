package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/evaluation"
)

// TestDetectFlags runs analyze with a detector config, a baseline written
// and read back, and bad inputs that must fail with a clear error.
func TestDetectFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "detect.yaml")
	if err := os.WriteFile(cfg, []byte(`quiet_gap: 5m
enumeration: {min_objects: 2}
endpoints:
  "GET api.example.com /api/v1/users/{id}":
    disable: [enumeration]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	base, findings := filepath.Join(dir, "baseline.json"), filepath.Join(dir, "findings.jsonl")
	if _, err := runCLI(t, "analyze", "--quiet", "--detect-config", cfg, "--baseline-out", base, "--findings", findings, demo); err != nil {
		t.Fatal(err)
	}
	snap, err := os.ReadFile(base)
	if err != nil || !strings.Contains(string(snap), `"name":"GET api.example.com /api/v1/users/{id}"`) {
		t.Fatalf("baseline snapshot (%v): %.200s", err, snap)
	}
	// With min_objects 2, actors touching several objects on the endpoints
	// left enabled are reported; the disabled endpoint never is.
	fs, err := evaluation.ReadFindingsFile(findings)
	if err != nil {
		t.Fatal(err)
	}
	enumerated := map[string]int{}
	for _, f := range fs {
		if f.Detector == "enumeration" {
			enumerated[f.Endpoint]++
		}
	}
	if len(enumerated) == 0 || enumerated["GET api.example.com /api/v1/users/{id}"] > 0 {
		t.Errorf("enumeration findings by endpoint with min_objects 2 and users/{id} disabled: %v", enumerated)
	}
	if _, err := runCLI(t, "analyze", "--quiet", "--baseline-in", base, demo); err != nil {
		t.Errorf("--baseline-in of our own snapshot: %v", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("enumeration: {min_object: 2}\n"), 0o644)
	if _, err := runCLI(t, "analyze", "--quiet", "--detect-config", bad, demo); err == nil || !strings.Contains(err.Error(), "min_object") {
		t.Errorf("misspelt key: %v", err)
	}
	if _, err := runCLI(t, "analyze", "--quiet", "--baseline-in", cfg, demo); err == nil || !strings.Contains(err.Error(), "--baseline-in") {
		t.Errorf("a YAML file as baseline: %v", err)
	}
}
