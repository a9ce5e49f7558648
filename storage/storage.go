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
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/apiwatch/apiwatch/internal/secret"
	"github.com/apiwatch/apiwatch/internal/tlsconfig"
)

// DefaultDatabase is the database a DSN without one uses.
const DefaultDatabase = "apiwatch"

// Store is a connection to apiwatch's database.
type Store struct {
	conn driver.Conn
	db   string
}

// Options are connection settings beyond the DSN, for what a DSN should
// not carry (a password) or cannot (certificate files). The zero value
// adds nothing to the DSN.
type Options struct {
	// Password, when set, replaces the DSN's password. It never prints.
	Password secret.String
	// TLS connects with TLS (to the server's tcp_port_secure, often
	// 9440), as the DSN's ?secure=true does. CAFile (PEM) is the CA the
	// server's certificate is checked against (default: the system's);
	// CertFile and KeyFile (PEM), a client certificate.
	// InsecureSkipVerify skips checking the server's certificate (tests
	// only; the DSN's skip_verify=true does the same). Setting any of
	// them implies TLS.
	TLS                       bool
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
}

func (o Options) tlsWanted() bool {
	return o.TLS || o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || o.InsecureSkipVerify
}

// Open connects to the ClickHouse server of dsn
// ("clickhouse://user:password@host:9000/database?dial_timeout=5s";
// "?secure=true" for TLS), creates the database when missing and applies
// the migrations. The errors say what to check.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith is Open with settings beyond the DSN: a password (from a file
// or the environment rather than the DSN) and TLS. The errors never hold
// the password.
func OpenWith(ctx context.Context, dsn string, o Options) (*Store, error) {
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
	if !o.Password.Empty() {
		opts.Auth.Password = o.Password.Reveal()
	}
	if o.tlsWanted() {
		skip := o.InsecureSkipVerify || opts.TLS != nil && opts.TLS.InsecureSkipVerify
		tc, err := tlsconfig.Client("clickhouse", o.CAFile, o.CertFile, o.KeyFile, "", skip)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
	}
	// Connect without the database: it may not exist yet.
	opts.Auth.Database = ""
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	addr := strings.Join(opts.Addr, ",")
	password := opts.Auth.Password
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, scrub(fmt.Errorf("clickhouse %s: %w", addr, err), password)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, scrub(explainConnect(addr, opts.Auth.Username, opts.TLS != nil, err), password)
	}
	s := &Store{conn: conn, db: db}
	if err := s.Migrate(ctx); err != nil {
		conn.Close()
		return nil, scrub(err, password)
	}
	return s, nil
}

// ClickHouse error codes of a refused login.
const (
	codeUnknownUser          = 192
	codeWrongPassword        = 193
	codeRequiredPassword     = 194
	codeIPAddressNotAllowed  = 195
	codeAuthenticationFailed = 516
)

// explainConnect says what a failed first contact with the server means.
func explainConnect(addr, user string, tls bool, err error) error {
	if user == "" {
		user = "default"
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
			return fmt.Errorf("clickhouse %s: the server refused user %q: check the user name and the password (the DSN's, or the password file / environment): %w", addr, user, err)
		case codeIPAddressNotAllowed:
			return fmt.Errorf("clickhouse %s: user %q may not connect from this address (the server's users.xml <networks>): %w", addr, user, err)
		}
	}
	if hint := tlsconfig.Explain(err, "the server"); hint != "" {
		return fmt.Errorf("clickhouse %s: %s: %w", addr, hint, err)
	}
	if !tls && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		return fmt.Errorf("clickhouse %s: the server closed the connection: if this is its TLS port (tcp_port_secure, often 9440), turn TLS on (?secure=true in the DSN): %w", addr, err)
	}
	if tls && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ECONNRESET)) {
		return fmt.Errorf("clickhouse %s: the TLS handshake failed: is this the server's TLS port (tcp_port_secure, often 9440) rather than its plain one (9000)? %w", addr, err)
	}
	return fmt.Errorf("clickhouse %s: %w (is the server running and the address, user and password right?)", addr, err)
}

// scrub removes a password from an error's message, should a library have
// quoted it.
func scrub(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), password, "****"), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

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
