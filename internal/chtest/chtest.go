// Package chtest gives integration tests a ClickHouse server: the one
// scripts/clickhouse.sh starts (make test does), named by
// APIWATCH_TEST_CLICKHOUSE. Without it a test skips — except in CI
// (CI=true), where a missing server is a failure.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/apiwatch/apiwatch/internal/testnet"
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
	dsn, _, drop := NewDatabase(Require(tb), "apiwatch_test_")
	tb.Cleanup(drop)
	return dsn
}

// NewDatabase names a fresh database on the server of base (a DSN
// without a database) and returns its DSN and a function that drops it;
// for a TestMain, which has no testing.TB.
func NewDatabase(base, prefix string) (dsn, db string, drop func()) {
	var b [6]byte
	rand.Read(b[:])
	db = prefix + hex.EncodeToString(b[:])
	return base + "/" + db, db, func() {
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
	}
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

// Server is a ClickHouse server of a test's own (scripts/clickhouse.sh on
// free ports, data in a temporary directory), for tests that stop and
// start it without disturbing the tests of other packages.
type Server struct {
	tb  testing.TB
	env []string
	// DSN reaches the server (no database).
	DSN string
}

// OwnServer starts a server for the length of the test. Like Require, it
// skips without ClickHouse outside CI and fails in CI.
func OwnServer(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("CI must run the ClickHouse tests: clickhouse-server is not installed (make test installs it)")
		}
		tb.Skip("needs clickhouse-server installed")
	}
	tcp := testnet.FreePort(tb)
	s := &Server{tb: tb, DSN: fmt.Sprintf("clickhouse://127.0.0.1:%d", tcp),
		env: append(os.Environ(), "CLICKHOUSE_DIR="+tb.TempDir(),
			"CLICKHOUSE_TCP_PORT="+strconv.Itoa(tcp), "CLICKHOUSE_HTTP_PORT="+strconv.Itoa(testnet.FreePort(tb)))}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() { s.run("start") }

// Stop stops it.
func (s *Server) Stop() { s.run("stop") }

func (s *Server) run(action string) {
	s.tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(filepath.Join(filepath.Dir(file), "..", "..", "scripts", "clickhouse.sh"), action)
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		s.tb.Fatalf("clickhouse.sh %s: %v %s", action, err, out)
	}
}
