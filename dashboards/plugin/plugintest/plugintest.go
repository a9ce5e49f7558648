// Package plugintest runs apiwatch's Grafana data source the way Grafana
// does, for tests: it builds the plugin executable, starts it through
// hashicorp/go-plugin with Grafana's handshake (the SDK's grpcplugin
// protocol version and magic cookie), dispenses the data, diagnostics and
// resource clients and speaks gRPC to them. It also fills a ClickHouse
// database with real pipeline output (apiwatch analyze of a capture).
package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/config"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// Packages of the executables Build makes.
const (
	PluginPackage   = "github.com/apiwatch/apiwatch/dashboards/plugin/cmd/gpx_apiwatch"
	APIWatchPackage = "github.com/apiwatch/apiwatch/cmd/apiwatch"
)

// Build builds the plugin (gpx_apiwatch) and apiwatch into dir with one
// go build, and returns their paths. It runs in the module (any working
// directory inside it will do) and needs no network once the module
// cache holds the dependencies.
func Build(ctx context.Context, dir string) (plugin, apiwatch string, err error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), PluginPackage, APIWatchPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build %s %s: %w\n%s", PluginPackage, APIWatchPackage, err, out)
	}
	return filepath.Join(dir, "gpx_apiwatch"), filepath.Join(dir, "apiwatch"), nil
}

// LoadCapture runs apiwatch analyze on capture, storing its events,
// findings, inventory and baselines in the ClickHouse database of dsn.
func LoadCapture(ctx context.Context, apiwatch, dsn, capture string) error {
	cmd := exec.CommandContext(ctx, apiwatch, "analyze", "--quiet", "--workers", "1", "--clickhouse", dsn, capture)
	cmd.Env = append(os.Environ(), "APIWATCH_SECRET=plugintest-secret")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apiwatch analyze %s: %w\n%s", capture, err, out.Bytes())
	}
	return nil
}

// LogBuffer collects a plugin's log, written from its goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// JSONData is the data source's jsonData as Grafana stores it.
type JSONData struct {
	Host          string `json:"host"`
	Port          int    `json:"port,omitempty"`
	Database      string `json:"database,omitempty"`
	User          string `json:"user,omitempty"`
	TLS           bool   `json:"tls,omitempty"`
	TLSSkipVerify bool   `json:"tlsSkipVerify,omitempty"`
}

// Settings returns the settings of a data source for the ClickHouse
// server of dsn (clickhouse://[user[:password]@]host:port[/database]),
// as Grafana sends them: jsonData, and the password in the decrypted
// secureJsonData.
func Settings(dsn string) (*backend.DataSourceInstanceSettings, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("DSN %s: port: %w", dsn, err)
	}
	jd := JSONData{Host: u.Hostname(), Port: port, Database: u.Path[min(1, len(u.Path)):], User: u.User.Username()}
	b, err := json.Marshal(jd)
	if err != nil {
		return nil, err
	}
	secure := map[string]string{}
	if pw, ok := u.User.Password(); ok {
		secure["password"] = pw
	}
	return &backend.DataSourceInstanceSettings{
		ID: 1, UID: "apiwatch", Name: "apiwatch", Type: "apiwatch-apiwatch-datasource",
		JSONData: b, DecryptedSecureJSONData: secure, Updated: time.Now().Truncate(time.Millisecond),
	}, nil
}

// PluginContext is the context Grafana sends with every call for the data
// source of settings, as user (nil: none).
func PluginContext(settings *backend.DataSourceInstanceSettings, user *backend.User) backend.PluginContext {
	return backend.PluginContext{
		Namespace:                  "default",
		PluginID:                   "apiwatch-apiwatch-datasource",
		PluginVersion:              "test",
		User:                       user,
		DataSourceInstanceSettings: settings,
		GrafanaConfig:              config.NewGrafanaCfg(map[string]string{}),
	}
}

// Client is a plugin process started as Grafana starts one, and the gRPC
// clients Grafana uses.
type Client struct {
	client *goplugin.Client
	data   grpcplugin.DataClient
	diag   grpcplugin.DiagnosticsClient
	res    grpcplugin.ResourceClient
}

// Start starts the plugin executable with Grafana's handshake and
// dispenses its data, diagnostics and resource services. The plugin's
// log goes to logTo (nil: discarded).
func Start(executable string, logTo io.Writer) (*Client, error) {
	if logTo == nil {
		logTo = io.Discard
	}
	pluginSet := goplugin.PluginSet{
		"data":        &grpcplugin.DataGRPCPlugin{},
		"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
		"resource":    &grpcplugin.ResourceGRPCPlugin{},
	}
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: pluginSet},
		Cmd:              exec.Command(executable),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logTo, Level: hclog.Info}),
		StartTimeout:     30 * time.Second,
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("starting %s: %w", executable, err)
	}
	cl := &Client{client: c}
	for name, dst := range map[string]any{"data": &cl.data, "diagnostics": &cl.diag, "resource": &cl.res} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			c.Kill()
			return nil, fmt.Errorf("dispensing %s: %w", name, err)
		}
		var ok bool
		switch d := dst.(type) {
		case *grpcplugin.DataClient:
			*d, ok = raw.(grpcplugin.DataClient)
		case *grpcplugin.DiagnosticsClient:
			*d, ok = raw.(grpcplugin.DiagnosticsClient)
		case *grpcplugin.ResourceClient:
			*d, ok = raw.(grpcplugin.ResourceClient)
		}
		if !ok {
			c.Kill()
			return nil, fmt.Errorf("dispensing %s: got a %T", name, raw)
		}
	}
	return cl, nil
}

// Close stops the plugin process.
func (c *Client) Close() { c.client.Kill() }

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.client.Exited() }

// QueryData sends a query request over gRPC.
func (c *Client) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp, err := c.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}

// CheckHealth sends a health check over gRPC.
func (c *Client) CheckHealth(ctx context.Context, req *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	resp, err := c.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{
		PluginContext: backend.ToProto().PluginContext(req.PluginContext),
		Headers:       req.Headers,
	})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(resp), nil
}

// CallResource sends a resource call over gRPC and collects the streamed
// response (status and headers from the first message, the body from all).
func (c *Client) CallResource(ctx context.Context, req *backend.CallResourceRequest) (*backend.CallResourceResponse, error) {
	stream, err := c.res.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return nil, err
	}
	var out *backend.CallResourceResponse
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		r := backend.FromProto().CallResourceResponse(msg)
		if out == nil {
			out = r
			continue
		}
		out.Body = append(out.Body, r.Body...)
	}
	if out == nil {
		return nil, errors.New("the plugin sent no resource response")
	}
	return out, nil
}
