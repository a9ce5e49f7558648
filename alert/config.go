package alert

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/secret"
)

// Config says where findings go. The zero value of every field but Sinks
// takes the default documented on it; see README.md for a YAML example.
type Config struct {
	// GrafanaURL is the base address of the Grafana serving apiwatch's
	// boards ("https://grafana.example.com"); alerts link to the finding's
	// investigation board under it. Empty: no link.
	GrafanaURL string `yaml:"grafana_url"`
	// ResolveAfter ends an incident that got no update for this long (by
	// the Dispatcher's clock): sinks that alerted on it are sent a resolve.
	// Set it to detect's quiet_gap or a little more. Default 15m; negative
	// resolves only on Dispatcher.Resolve.
	ResolveAfter time.Duration `yaml:"resolve_after"`
	// MaxOpen bounds the incidents remembered for dedup and resolve
	// (default 10000). Past it, the one updated longest ago is resolved
	// early; if it goes on, its next update alerts again.
	MaxOpen int          `yaml:"max_open"`
	Sinks   []SinkConfig `yaml:"sinks"`
	// Routes pick each finding's sinks: every route that matches adds its
	// sinks. Without routes every finding goes to every sink.
	Routes []Route `yaml:"routes"`
}

// Sink types.
const (
	Slack     = "slack"
	PagerDuty = "pagerduty"
	Webhook   = "webhook"
)

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// SinkConfig is one destination. Each secret is given by exactly one of
// the inline value, a file holding it (read once at New, without its
// trailing newline) or the name of an environment variable holding it.
type SinkConfig struct {
	// Name identifies the sink in routes, stats and logs.
	Name string `yaml:"name"`
	// Type is slack, pagerduty or webhook.
	Type string `yaml:"type"`

	// Slack: the incoming-webhook URL (its path is the secret).
	WebhookURL     secret.String `yaml:"webhook_url"`
	WebhookURLFile string        `yaml:"webhook_url_file"`
	WebhookURLEnv  string        `yaml:"webhook_url_env"`

	// PagerDuty: the integration's routing key.
	RoutingKey     secret.String `yaml:"routing_key"`
	RoutingKeyFile string        `yaml:"routing_key_file"`
	RoutingKeyEnv  string        `yaml:"routing_key_env"`

	// URL: the webhook's address (required), or PagerDuty's events
	// endpoint (default DefaultPagerDutyURL).
	URL string `yaml:"url"`
	// Webhook: the HMAC-SHA256 signing secret (required).
	Secret     secret.String `yaml:"secret"`
	SecretFile string        `yaml:"secret_file"`
	SecretEnv  string        `yaml:"secret_env"`

	// SkipResolve: do not tell this sink when an incident ends.
	SkipResolve bool `yaml:"skip_resolve"`
	// Timeout bounds one HTTP attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// QueueSize bounds the messages waiting for this sink (default 1000);
	// past it, new ones are dropped and counted.
	QueueSize int `yaml:"queue_size"`
	// RatePerMinute limits the alerts (triggers) sent to this sink: a
	// token bucket of Burst tokens refilled at RatePerMinute per minute.
	// Alerts over the limit are dropped and counted; the incident stays
	// un-alerted on the sink, so its next update tries again. Resolves are
	// never rate limited (there is at most one per alert sent). Default 60;
	// negative: no limit.
	RatePerMinute int `yaml:"rate_per_minute"`
	// Burst is the bucket's size (default RatePerMinute).
	Burst int         `yaml:"burst"`
	Retry RetryConfig `yaml:"retry"`
}

// RetryConfig: network errors, 429 and 5xx answers are retried with
// exponential backoff (MinBackoff doubling up to MaxBackoff, each wait
// drawn between half and all of it); other answers are not.
type RetryConfig struct {
	// MaxAttempts counts the first attempt too (default 8; 1: no retry).
	MaxAttempts int           `yaml:"max_attempts"`
	MinBackoff  time.Duration `yaml:"min_backoff"` // default 1s
	MaxBackoff  time.Duration `yaml:"max_backoff"` // default 2m
	// MaxRetryAfter caps the wait a 429 or 503's Retry-After asks for
	// (default 10m). The wait is the longer of Retry-After and the backoff.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
}

// Route sends the findings it matches to its sinks. Empty conditions
// match everything.
type Route struct {
	// Detectors: enumeration, data_exposure, credential_stuffing.
	Detectors []string `yaml:"detectors"`
	// MinSeverity: low, medium, high or critical.
	MinSeverity finding.Severity `yaml:"min_severity"`
	// Endpoints are patterns on the endpoint name ("GET api.example.com
	// /v1/users/{id}") where * matches any run of characters, '/' and ' '
	// included: "POST api.example.com /v1/login", "* api.example.com
	// /admin/*", "GET *".
	Endpoints []string `yaml:"endpoints"`
	// Sinks are the names of the sinks to alert.
	Sinks []string `yaml:"sinks"`
}

// Defaults, with their reasons.
const (
	// Detect ends incidents after a 10m quiet gap by default; a few more
	// minutes absorb the delay between capture and the Dispatcher.
	DefaultResolveAfter = 15 * time.Minute
	// Only incidents alerted on are remembered, and the rate limit bounds
	// those: 60 a minute for 15 minutes is 900 per sink. Each holds a copy
	// of its finding (a few KiB at most).
	DefaultMaxOpen = 10000
	DefaultTimeout = 10 * time.Second
	// A burst of findings larger than this is an attack being worked on,
	// not one on-call people read one by one.
	DefaultQueueSize = 1000
	// Slack accepts about one message per second per webhook; PagerDuty
	// 120 events per minute per routing key.
	DefaultRatePerMinute = 60
	DefaultMaxAttempts   = 8 // about 2 minutes of retrying at the default backoffs
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 2 * time.Minute
	DefaultMaxRetryAfter = 10 * time.Minute
)

// LoadConfig reads a YAML config file; unknown keys are errors.
func LoadConfig(file string) (Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// ParseConfig reads a YAML config; unknown keys are errors. It does not
// validate: New does.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err != io.EOF {
		return Config{}, fmt.Errorf("%w (see alert/README.md for the keys)", err)
	}
	return c, nil
}

// withDefaults fills c's zero fields.
func (c Config) withDefaults() Config {
	if c.ResolveAfter == 0 {
		c.ResolveAfter = DefaultResolveAfter
	}
	if c.MaxOpen <= 0 {
		c.MaxOpen = DefaultMaxOpen
	}
	c.Sinks = append([]SinkConfig(nil), c.Sinks...)
	for i := range c.Sinks {
		s := &c.Sinks[i]
		if s.Type == PagerDuty && s.URL == "" {
			s.URL = DefaultPagerDutyURL
		}
		if s.Timeout <= 0 {
			s.Timeout = DefaultTimeout
		}
		if s.QueueSize <= 0 {
			s.QueueSize = DefaultQueueSize
		}
		if s.RatePerMinute == 0 {
			s.RatePerMinute = DefaultRatePerMinute
		}
		if s.Burst <= 0 {
			s.Burst = max(s.RatePerMinute, 1)
		}
		r := &s.Retry
		if r.MaxAttempts <= 0 {
			r.MaxAttempts = DefaultMaxAttempts
		}
		if r.MinBackoff <= 0 {
			r.MinBackoff = DefaultMinBackoff
		}
		if r.MaxBackoff <= 0 {
			r.MaxBackoff = max(DefaultMaxBackoff, r.MinBackoff)
		}
		if r.MaxRetryAfter <= 0 {
			r.MaxRetryAfter = DefaultMaxRetryAfter
		}
	}
	return c
}

// knownDetectors are the detectors a route may name.
var knownDetectors = []string{finding.Enumeration, finding.DataExposure, finding.CredentialStuffing}

// validate checks a config with defaults applied. Its errors never quote
// a secret or a URL.
func (c *Config) validate() error {
	if c.GrafanaURL != "" {
		if _, err := httpURL(c.GrafanaURL); err != nil {
			return fmt.Errorf("grafana_url: %w", err)
		}
	}
	names := map[string]bool{}
	for i, s := range c.Sinks {
		switch {
		case s.Name == "":
			return fmt.Errorf("sinks[%d]: name is empty: give every sink a name for routes and metrics", i)
		case names[s.Name]:
			return fmt.Errorf("sinks[%d]: name %q is used twice", i, s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case Slack, PagerDuty, Webhook:
		default:
			return fmt.Errorf("sink %s: type %q: use slack, pagerduty or webhook", s.Name, s.Type)
		}
		if s.URL != "" && s.Type != Slack {
			if _, err := httpURL(s.URL); err != nil {
				return fmt.Errorf("sink %s: url: %w", s.Name, err)
			}
		}
	}
	for i, r := range c.Routes {
		for _, d := range r.Detectors {
			found := false
			for _, k := range knownDetectors {
				found = found || d == k
			}
			if !found {
				return fmt.Errorf("routes[%d]: unknown detector %q (want %s)", i, d, strings.Join(knownDetectors, ", "))
			}
		}
		if r.MinSeverity > finding.Critical {
			return fmt.Errorf("routes[%d]: min_severity %d out of range", i, r.MinSeverity)
		}
		if len(r.Sinks) == 0 {
			return fmt.Errorf("routes[%d]: no sinks", i)
		}
		for _, n := range r.Sinks {
			if !names[n] {
				return fmt.Errorf("routes[%d]: no sink is named %q", i, n)
			}
		}
	}
	return nil
}

// sinkSecrets resolves the secrets of a sink.
type sinkSecrets struct {
	url    string // the address to POST to: the Slack webhook URL, or URL
	key    string // the PagerDuty routing key
	secret string // the webhook signing secret
}

func (s *SinkConfig) secrets() (sinkSecrets, error) {
	var out sinkSecrets
	var err error
	switch s.Type {
	case Slack:
		if s.URL != "" {
			return out, fmt.Errorf("sink %s: a slack sink takes webhook_url (or webhook_url_file, webhook_url_env), not url", s.Name)
		}
		if out.url, err = readSecret("webhook_url", s.WebhookURL, s.WebhookURLFile, s.WebhookURLEnv); err != nil {
			return out, fmt.Errorf("sink %s: %w", s.Name, err)
		}
		if _, err := httpURL(out.url); err != nil {
			return out, fmt.Errorf("sink %s: webhook_url: %w", s.Name, err)
		}
	case PagerDuty:
		if out.key, err = readSecret("routing_key", s.RoutingKey, s.RoutingKeyFile, s.RoutingKeyEnv); err != nil {
			return out, fmt.Errorf("sink %s: %w", s.Name, err)
		}
		out.url = s.URL
	case Webhook:
		if s.URL == "" {
			return out, fmt.Errorf("sink %s: a webhook sink needs url", s.Name)
		}
		if out.secret, err = readSecret("secret", s.Secret, s.SecretFile, s.SecretEnv); err != nil {
			return out, fmt.Errorf("sink %s: %w", s.Name, err)
		}
		out.url = s.URL
	}
	if s.Type != Slack && (!s.WebhookURL.Empty() || s.WebhookURLFile != "" || s.WebhookURLEnv != "") {
		return out, fmt.Errorf("sink %s: webhook_url is for slack sinks (a %s sink takes url)", s.Name, s.Type)
	}
	if s.Type != PagerDuty && (!s.RoutingKey.Empty() || s.RoutingKeyFile != "" || s.RoutingKeyEnv != "") {
		return out, fmt.Errorf("sink %s: routing_key is for pagerduty sinks", s.Name)
	}
	if s.Type != Webhook && (!s.Secret.Empty() || s.SecretFile != "" || s.SecretEnv != "") {
		return out, fmt.Errorf("sink %s: secret is for webhook sinks", s.Name)
	}
	return out, nil
}

// readSecret reads the one source of a secret given.
func readSecret(key string, inline secret.String, file, env string) (string, error) {
	given := 0
	for _, g := range []bool{!inline.Empty(), file != "", env != ""} {
		if g {
			given++
		}
	}
	switch {
	case given == 0:
		return "", fmt.Errorf("%s is missing: give %s_file (a file holding it), %s_env (an environment variable holding it) or %s", key, key, key, key)
	case given > 1:
		return "", fmt.Errorf("give only one of %s, %s_file and %s_env", key, key, key)
	case file != "":
		v, err := secret.Read("", file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", key, err)
		}
		return v.Reveal(), nil
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", fmt.Errorf("%s_env: the environment variable %s is not set or empty", key, env)
		}
		return v, nil
	}
	return inline.Reveal(), nil
}

var errNotHTTP = errors.New("not an absolute http or https URL")

// httpURL parses an absolute http(s) URL. Its error does not quote it.
func httpURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errNotHTTP
	}
	return u, nil
}

// redactURL shows where a URL points without what may be secret in it:
// scheme and host only.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return secret.Redacted
	}
	return u.Scheme + "://" + u.Host + "/" + secret.Redacted
}
