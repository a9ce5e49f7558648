// Package sharedpcaps locates, for tests, the shared corpus of real packet
// captures that sits beside the checkout (../shared/pcaps), so tests read
// it in place instead of keeping copies.
package sharedpcaps

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the absolute path of the shared captures. When they are
// missing the test is skipped, except under CI (CI=true), where a missing
// corpus means the run proves nothing and so fails.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	// The module root is the nearest folder with a go.mod; the corpus is
	// beside it.
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("sharedpcaps: no go.mod above the test's directory")
		}
		dir = parent
	}
	root := filepath.Join(filepath.Dir(dir), "shared", "pcaps")
	if _, err := os.Stat(filepath.Join(root, "MANIFEST.tsv")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared captures missing at %s: CI must run with shared/ beside the checkout", root)
		}
		tb.Skipf("shared captures not found at %s", root)
	}
	return root
}
