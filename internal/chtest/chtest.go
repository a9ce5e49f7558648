// Package chtest gives integration tests a ClickHouse server: the one
// scripts/clickhouse.sh starts (make test does), named by
// APIWATCH_TEST_CLICKHOUSE. Without it a test skips — except in CI
// (CI=true), where a missing server is a failure.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/apiwatch/apiwatch/storage"
)

// EnvDSN names the variable holding the test server's DSN.
const EnvDSN = "APIWATCH_TEST_CLICKHOUSE"

// Require returns the test server's DSN (without a database), skipping the
// test when there is none outside CI and failing it in CI.
func Require(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the ClickHouse tests (make test starts the server)", EnvDSN)
		}
		tb.Skipf("no ClickHouse server: run scripts/clickhouse.sh start and set %s=clickhouse://127.0.0.1:19000", EnvDSN)
	}
	return base
}

// DSN returns the test server's address with a fresh database name, and
// drops that database when the test ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	base := Require(tb)
	var b [6]byte
	rand.Read(b[:])
	db := "apiwatch_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		opts, err := clickhouse.ParseDSN(base)
		if err != nil {
			return
		}
		conn, err := clickhouse.Open(opts)
		if err != nil {
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`")
	})
	return base + "/" + db
}

// Open opens a Store on a fresh database of the test server.
func Open(tb testing.TB) *storage.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.Open(ctx, DSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
