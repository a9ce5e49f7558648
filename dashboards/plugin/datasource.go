// Package plugin is apiwatch's Grafana data source: a backend plugin
// (grafana-plugin-sdk-go) that reads apiwatch's ClickHouse tables through
// the storage query layer. Analysts pick a query type (findings, a
// finding's detail, the inventory, top actors, rates, login outcomes,
// annotations) and filters instead of writing SQL; a read-only SQL query
// type with time macros serves the rest. Triage (acknowledged / false
// positive) is a resource call. The query model and every frame's shape
// are in README.md; cmd/gpx_apiwatch is the executable Grafana starts.
package plugin

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/apiwatch/apiwatch/internal/secret"
	"github.com/apiwatch/apiwatch/storage"
)

// ID is the plugin id of plugin.json.
const ID = "apiwatch-apiwatch-datasource"

// Default connection settings.
const (
	DefaultPort    = 9000 // ClickHouse's native protocol
	DefaultTLSPort = 9440 // its tcp_port_secure
	DefaultUser    = "default"
	// ConnectTimeout bounds connecting (and migrating) on first use.
	ConnectTimeout = 15 * time.Second
)

// Settings are a data source's settings: jsonData plus the decrypted
// secureJsonData (password, tlsCACert).
type Settings struct {
	Host          string   `json:"host"`
	Port          flexPort `json:"port"` // DefaultPort, DefaultTLSPort with TLS
	Database      string   `json:"database"`
	User          string   `json:"user"`
	TLS           bool     `json:"tls"`
	TLSSkipVerify bool     `json:"tlsSkipVerify"`

	Password secret.String `json:"-"`
	CACert   string        `json:"-"` // PEM
}

// flexPort reads a port written as a number or a string (provisioning
// files often quote it).
type flexPort int

func (p *flexPort) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*p = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %s: want a number from 1 to 65535", b)
	}
	*p = flexPort(n)
	return nil
}

// ParseSettings reads a data source's settings, applies the defaults and
// checks them.
func ParseSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var st Settings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &st); err != nil {
			return Settings{}, fmt.Errorf("data source settings (jsonData): %w", err)
		}
	}
	st.Password = secret.String(s.DecryptedSecureJSONData["password"])
	st.CACert = s.DecryptedSecureJSONData["tlsCACert"]
	st.Host = strings.TrimSpace(st.Host)
	if st.Host == "" {
		return Settings{}, errors.New("data source settings: no host: set jsonData.host to the ClickHouse server's name or address")
	}
	if strings.ContainsAny(st.Host, "/@?# ") {
		return Settings{}, fmt.Errorf("data source settings: host %q: give a name or address only, without scheme, port or path", st.Host)
	}
	if st.Port == 0 {
		st.Port = DefaultPort
		if st.TLS {
			st.Port = DefaultTLSPort
		}
	}
	if st.Database == "" {
		st.Database = storage.DefaultDatabase
	}
	if st.User == "" {
		st.User = DefaultUser
	}
	if st.CACert != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(st.CACert)) {
			return Settings{}, errors.New("data source settings: secureJsonData.tlsCACert holds no PEM certificate (want -----BEGIN CERTIFICATE-----)")
		}
	}
	return st, nil
}

// DSN is the ClickHouse DSN of the settings, without the password.
func (st Settings) DSN() string {
	u := url.URL{
		Scheme:   "clickhouse",
		User:     url.User(st.User),
		Host:     net.JoinHostPort(st.Host, strconv.Itoa(int(st.Port))),
		Path:     "/" + st.Database,
		RawQuery: "dial_timeout=5s",
	}
	return u.String()
}

// Address is host:port, for messages.
func (st Settings) Address() string {
	return net.JoinHostPort(st.Host, strconv.Itoa(int(st.Port)))
}

// Datasource is one configured data source: its settings and, once a
// request needed it, its connection. It serves QueryData, CheckHealth and
// CallResource.
type Datasource struct {
	settings    Settings
	settingsErr error // reported by every call: the settings are unusable

	mu     sync.Mutex
	store  *storage.Store
	caFile string // tlsCACert written out for storage.Options.CAFile
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource is the instance factory of datasource.Manage. It never
// fails: settings that cannot work are reported by CheckHealth and by
// every query, where Grafana shows them. It does not connect; the first
// request does.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	st, err := ParseSettings(s)
	return &Datasource{settings: st, settingsErr: err}, nil
}

// Dispose closes the connection: Grafana made a new instance (the
// settings changed) or stops.
func (d *Datasource) Dispose() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.store != nil {
		d.store.Close()
		d.store = nil
	}
	if d.caFile != "" {
		os.Remove(d.caFile)
		d.caFile = ""
	}
}

// Store returns the data source's connection, connecting on first use
// (storage.OpenWith: the schema is created or migrated). A failed
// connection is tried again by the next call.
func (d *Datasource) Store(ctx context.Context) (*storage.Store, error) {
	if d.settingsErr != nil {
		return nil, d.settingsErr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.store != nil {
		return d.store, nil
	}
	o := storage.Options{
		Password:           d.settings.Password,
		TLS:                d.settings.TLS,
		InsecureSkipVerify: d.settings.TLSSkipVerify,
	}
	if d.settings.CACert != "" {
		if d.caFile == "" {
			f, err := os.CreateTemp("", "apiwatch-ca-*.pem")
			if err != nil {
				return nil, fmt.Errorf("writing the CA certificate: %w", err)
			}
			_, err = f.WriteString(d.settings.CACert)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(f.Name())
				return nil, fmt.Errorf("writing the CA certificate: %w", err)
			}
			d.caFile = f.Name()
		}
		o.CAFile = d.caFile
	}
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	s, err := storage.OpenWith(ctx, d.settings.DSN(), o)
	if err != nil {
		return nil, err
	}
	d.store = s
	return s, nil
}
