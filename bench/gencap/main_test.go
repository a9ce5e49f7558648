package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"300MB": 300 << 20, "2mb": 2 << 20, "512KB": 512 << 10, "1G": 1 << 30, "1000": 1000, "1.5MB": 3 << 19} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "lots"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestRefusesFlagsTheScenarioIgnores(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pcap")
	for _, args := range [][]string{
		{"-scenario", "attacks", "-size", "2MB"},
		{"-scenario", "benign", "-conns", "10"},
		{"-duration", "1m"},
	} {
		err := run(append(args, "-o", out))
		if err == nil || !strings.Contains(err.Error(), "does not use") {
			t.Errorf("%v: %v, want a refusal", args, err)
		}
	}
}
