// Package storage keeps apiwatch's data in ClickHouse: API events, findings,
// the endpoint inventory, baselines and per-minute rollups. It owns the
// schema (versioned migrations, migrate.go), the batched writers
// (writer.go) and the read queries the dashboards use (query.go).
//
// One schema serves Debian's clickhouse-server 18.16 (what the tests run)
// and current releases: addresses are FixedString(16) (IPv6 or
// IPv4-mapped), times DateTime plus a sub-second column, retention drops
// daily partitions (no TTL), no LowCardinality, Map, DateTime64 or CODEC.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDatabase is the database a DSN without one uses.
const DefaultDatabase = "apiwatch"

// Store is a connection to apiwatch's database.
type Store struct {
	conn driver.Conn
	db   string
}

// Open connects to the ClickHouse server of dsn
// ("clickhouse://user:password@host:9000/database?dial_timeout=5s"),
// creates the database when missing and applies the migrations. The
// errors say what to check.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if !strings.HasPrefix(dsn, "clickhouse://") {
		return nil, fmt.Errorf("clickhouse DSN %q: want clickhouse://[user[:password]@]host:port/database", redact(dsn))
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse DSN %q: %w (want clickhouse://[user[:password]@]host:port/database)", redact(dsn), err)
	}
	db := opts.Auth.Database
	if db == "" || db == "default" {
		db = DefaultDatabase
	}
	if !validName(db) {
		return nil, fmt.Errorf("clickhouse DSN: database name %q: use letters, digits and _", db)
	}
	// Connect without the database: it may not exist yet.
	opts.Auth.Database = ""
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", strings.Join(opts.Addr, ","), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: %w (is the server running and the address, user and password right?)", strings.Join(opts.Addr, ","), err)
	}
	s := &Store{conn: conn, db: db}
	if err := s.Migrate(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.conn.Close() }

// Database returns the database name.
func (s *Store) Database() string { return s.db }

// Conn returns the underlying connection (tests, tools).
func (s *Store) Conn() driver.Conn { return s.conn }

// t qualifies a table name with the database.
func (s *Store) t(table string) string { return "`" + s.db + "`." + table }

func validName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// redact hides a DSN's password in messages.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return dsn[:scheme+3] + userinfo[:i] + ":****" + dsn[at:]
	}
	return dsn
}

// isUnavailable reports errors that a retry may cure (the server down or
// restarting), as opposed to errors in what was sent.
func isUnavailable(err error) bool {
	var ex *clickhouse.Exception
	var row *rowError
	return err != nil && !errors.As(err, &ex) && !errors.As(err, &row)
}
