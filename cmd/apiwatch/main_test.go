package main

import (
	"os"
	"testing"
)

// TestMain lets a test run apiwatch itself as a child process (to kill it
// hard): with APIWATCH_TEST_MAIN=1 the test binary is apiwatch.
func TestMain(m *testing.M) {
	if os.Getenv("APIWATCH_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
