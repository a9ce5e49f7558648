package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/parse/endpoint"
	"github.com/apiwatch/apiwatch/parse/identity"
	"github.com/apiwatch/apiwatch/parse/normalize"
)

// normalizeOptions configure how transactions become API events.
type normalizeOptions struct {
	sensorID       string
	openapi        []string
	secretFile     string
	trustedProxies []string
	identity       identity.Config
	analyzeFirst   int
	analyzeEvery   int
	panics         eventPanics
}

// eventPanics counts the transactions whose event could not be built: a
// bug that some traffic reaches (normalize.Config.OnPanic). The first ones
// are logged with their stacks, then one in a thousand, so that hostile
// traffic hitting the bug cannot flood the log.
type eventPanics struct{ n atomic.Uint64 }

func (p *eventPanics) record(v any, stack []byte) {
	if n := p.n.Add(1); n <= 10 || n%1000 == 0 {
		logger.Error().Str("panic", fmt.Sprint(v)).Bytes("stack", stack).Uint64("count", n).
			Msg("building an API event failed, the transaction has no event: this is a bug, please report it with this log line")
	}
}

// count returns the transactions left without an event so far.
func (p *eventPanics) count() uint64 { return p.n.Load() }

func (o *normalizeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.sensorID, "sensor-id", "", "name of this sensor in every event (default: the host name)")
	f.StringSliceVar(&o.openapi, "openapi", nil, "OpenAPI 3 spec `FILE` (YAML or JSON) whose templates override inference; endpoints it lacks are marked shadow; repeat for several")
	f.StringVar(&o.secretFile, "secret-file", "", "`FILE` holding the deployment secret that keys every identity hash (or set APIWATCH_SECRET); without one, hashes change at every start")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxy", nil, "`CIDR` of a proxy or load balancer whose X-Forwarded-For / Forwarded header names the real client; repeat for several")
	f.StringVar(&o.identity.ForwardedHeader, "forwarded-header", "", "which header trusted proxies set: X-Forwarded-For or Forwarded (default: X-Forwarded-For if present, else Forwarded; set it, so clients cannot forge the other)")
	f.StringSliceVar(&o.identity.LoginPaths, "login-path", nil, "path (or template, * wildcards) of a login endpoint, in addition to those detected; repeat for several")
	f.StringSliceVar(&o.identity.APIKeyHeaders, "api-key-header", nil, "header carrying an API key (default: X-API-Key, Api-Key, X-Api-Token, X-Auth-Token, Apikey, X-Access-Token)")
	f.StringSliceVar(&o.identity.APIKeyQueryParams, "api-key-param", nil, "query parameter carrying an API key (default: api_key, apikey, key, access_token, token)")
	f.IntVar(&o.analyzeFirst, "analyze-first", 0, "analyse the bodies of every endpoint's first N responses (default 64)")
	f.IntVar(&o.analyzeEvery, "analyze-every", 0, "then analyse 1 in N response bodies, plus any larger than before, of a new status class, or a success for a caller without credentials; 1 analyses all (default 32)")
	f.StringSliceVar(&o.identity.SessionCookies, "session-cookie", nil, "cookie naming a session, * wildcards (default: session, sessionid, sid, connect.sid, JSESSIONID, PHPSESSID, …)")
}

func (o *normalizeOptions) config() (normalize.Config, error) {
	cfg := normalize.Config{SensorID: o.sensorID, AnalyzeFirst: o.analyzeFirst, AnalyzeEvery: o.analyzeEvery, OnPanic: o.panics.record}
	if cfg.SensorID == "" {
		cfg.SensorID, _ = os.Hostname()
	}
	secret := []byte(os.Getenv("APIWATCH_SECRET"))
	if o.secretFile != "" {
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return cfg, fmt.Errorf("--secret-file: %w", err)
		}
		secret = bytes.TrimSpace(b)
	}
	o.identity.Secret = secret
	for _, p := range o.trustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return cfg, fmt.Errorf("--trusted-proxy %q: want an address or CIDR such as 10.0.0.0/8", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		o.identity.TrustedProxies = append(o.identity.TrustedProxies, prefix)
	}
	cfg.Identity = identity.New(o.identity)
	if cfg.Identity.Ephemeral() {
		logger.Warn().Msg("no deployment secret (--secret-file or APIWATCH_SECRET): actor and object hashes use a random key and will not match across restarts or sensors")
	}
	if len(o.openapi) > 0 {
		spec, err := endpoint.LoadSpecs(o.openapi...)
		if err != nil {
			return cfg, fmt.Errorf("--openapi: %w", err)
		}
		cfg.Spec = spec
	}
	return cfg, nil
}

// shardKey keys how the connections of capture files are sharded over the
// workers: derived from the deployment secret, so two runs over one capture
// give each worker the same connections (and so sample the same bodies and
// produce the same events and findings) while the key stays unknown to
// whoever crafts the traffic. Without a secret the key is a fixed one, so
// runs are reproducible there too: the hashes in events then differ from
// run to run, the findings do not. Knowing it lets crafted flows load one
// worker more than the other; it hides nothing from analysis, and live
// capture shards by the kernel's fanout, not by this key.
func (o *normalizeOptions) shardKey() uint64 {
	m := hmac.New(sha256.New, o.identity.Secret)
	m.Write([]byte("apiwatch shard key"))
	return binary.LittleEndian.Uint64(m.Sum(nil))
}
