package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/apiwatch/apiwatch/storage"
)

// Health is CheckHealth's JSONDetails.
type Health struct {
	Address           string `json:"address"`
	Database          string `json:"database"`
	ClickHouseVersion string `json:"clickhouseVersion,omitempty"`
	SchemaVersion     uint32 `json:"schemaVersion"`
	WantSchema        uint32 `json:"wantSchemaVersion"`
}

// CheckHealth connects (creating or migrating the schema, as every
// apiwatch client does) and reports the ClickHouse version and the schema
// version, or what is wrong: settings, an unreachable server, a refused
// login, a schema that is older than this plugin needs.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	h := Health{Address: d.settings.Address(), Database: d.settings.Database, WantSchema: storage.SchemaVersion()}
	fail := func(msg string) (*backend.CheckHealthResult, error) {
		details, _ := json.Marshal(h)
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg, JSONDetails: details}, nil
	}
	if d.settingsErr != nil {
		return fail(d.settingsErr.Error())
	}
	st, err := d.Store(ctx)
	if err != nil {
		return fail(explainHealth(d.settings, err))
	}
	if err := st.Conn().QueryRow(ctx, "SELECT version()").Scan(&h.ClickHouseVersion); err != nil {
		return fail(fmt.Sprintf("ClickHouse at %s answered but could not run a query: %v", h.Address, err))
	}
	h.SchemaVersion, err = st.Version(ctx)
	if err != nil {
		return fail(fmt.Sprintf("ClickHouse %s at %s: %v", h.ClickHouseVersion, h.Address, err))
	}
	msg, ok := schemaMessage(h)
	if !ok {
		return fail(msg)
	}
	details, _ := json.Marshal(h)
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg, JSONDetails: details}, nil
}

// schemaMessage says what the schema version means for this plugin, and
// whether it can work with it.
func schemaMessage(h Health) (string, bool) {
	switch {
	case h.SchemaVersion < h.WantSchema:
		return fmt.Sprintf("ClickHouse %s at %s: apiwatch schema version %d in database %s is older than this plugin needs (%d): run apiwatch migrate with a user allowed to create tables",
			h.ClickHouseVersion, h.Address, h.SchemaVersion, h.Database, h.WantSchema), false
	case h.SchemaVersion > h.WantSchema:
		return fmt.Sprintf("ClickHouse %s at %s, database %s: apiwatch schema version %d is newer than this plugin knows (%d): update the plugin to match the detector",
			h.ClickHouseVersion, h.Address, h.Database, h.SchemaVersion, h.WantSchema), true
	}
	return fmt.Sprintf("ClickHouse %s at %s, database %s: apiwatch schema version %d", h.ClickHouseVersion, h.Address, h.Database, h.SchemaVersion), true
}

// explainHealth turns a failed connection into a message that starts with
// what went wrong; storage's own explanation follows.
func explainHealth(st Settings, err error) string {
	msg := err.Error()
	var dns *net.DNSError
	var nerr net.Error
	switch {
	case errors.As(err, &dns):
		return fmt.Sprintf("ClickHouse host %q is unknown (DNS): check the host setting: %s", st.Host, msg)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("ClickHouse is unreachable at %s: nothing listens there (connection refused): check host, port and that the server runs: %s", st.Address(), msg)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Sprintf("ClickHouse is unreachable at %s: no answer in time (a firewall, or the wrong address?): %s", st.Address(), msg)
	case strings.Contains(msg, "refused user"), strings.Contains(msg, "may not connect from this address"):
		return fmt.Sprintf("ClickHouse at %s refused the login of user %q (authentication failed): check the user and the password: %s", st.Address(), st.User, msg)
	case strings.Contains(msg, "migration") || strings.Contains(msg, "create database") || strings.Contains(msg, "schema_migrations"):
		return fmt.Sprintf("ClickHouse at %s: the apiwatch schema in database %s could not be created or brought to version %d (a read-only user?): run apiwatch migrate with a user allowed to create tables: %s",
			st.Address(), st.Database, storage.SchemaVersion(), msg)
	}
	return fmt.Sprintf("ClickHouse at %s: %s", st.Address(), msg)
}
