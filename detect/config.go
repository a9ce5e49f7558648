package detect

import "time"

// Config tunes the detectors. Every threshold is the larger of an absolute
// floor and a multiple of the endpoint's baseline (the baseline part only
// once the endpoint is learned). The zero value uses DefaultConfig's
// values; Endpoints overrides them per endpoint.
type Config struct {
	Enumeration Enumeration `yaml:"enumeration"`
	Exposure    Exposure    `yaml:"data_exposure"`
	Stuffing    Stuffing    `yaml:"credential_stuffing"`
	// QuietGap ends an incident: a triggering event later than this after
	// the last one opens a new finding. Default 10m.
	QuietGap time.Duration `yaml:"quiet_gap"`
	// Endpoints holds per-endpoint overrides, by endpoint name
	// ("GET api.example.com /v1/users/{id}"). Zero fields keep the defaults.
	Endpoints map[string]Overrides `yaml:"endpoints"`
}

// Overrides are one endpoint's thresholds.
type Overrides struct {
	Enumeration Enumeration `yaml:"enumeration"`
	Exposure    Exposure    `yaml:"data_exposure"`
	Stuffing    Stuffing    `yaml:"credential_stuffing"`
	// Disable turns detectors off for the endpoint ("enumeration", …).
	Disable []string `yaml:"disable"`
}

// Enumeration thresholds: distinct objects one actor touches on one
// endpoint in one window.
type Enumeration struct {
	// MinObjects is the floor (default 50); Multiple applies to the 90th
	// percentile of what one actor touches in a window there, and to the
	// most this actor touched in a window while the endpoint learned
	// (default 3).
	MinObjects float64 `yaml:"min_objects"`
	Multiple   float64 `yaml:"multiple"`
	// Shares of the window's requests that make a finding stronger: ids in
	// sequence, access denied (401/403/404), objects first served to
	// another actor. Default 0.5 each.
	SequentialShare float64 `yaml:"sequential_share"`
	DeniedShare     float64 `yaml:"denied_share"`
	ForeignShare    float64 `yaml:"foreign_share"`
}

// Exposure thresholds.
type Exposure struct {
	// One response: bytes and records far above the endpoint's 99th
	// percentile (defaults: floor 1 MiB / 1000 records, multiple 10).
	MinBytes         float64 `yaml:"min_bytes"`
	MinRecords       float64 `yaml:"min_records"`
	ResponseMultiple float64 `yaml:"response_multiple"`
	// One actor in one window: records and bytes pulled (defaults: floor
	// 5000 records / 50 MiB, multiple 10 of the 90th percentile of actors).
	MinActorRecords float64 `yaml:"min_actor_records"`
	MinActorBytes   float64 `yaml:"min_actor_bytes"`
	ActorMultiple   float64 `yaml:"actor_multiple"`
	// MinUnauthenticated: responses with sensitive data to callers without
	// credentials before a finding opens (default 3); endpoints that served
	// such responses to more than UnauthenticatedShare of their analysed
	// responses while learning are public by design (default 0.05).
	MinUnauthenticated   float64 `yaml:"min_unauthenticated"`
	UnauthenticatedShare float64 `yaml:"unauthenticated_share"`
	// MinAnalyzed: a sensitive class or field is "new" on an endpoint once
	// that many of its responses were analysed without it (default 50).
	MinAnalyzed float64 `yaml:"min_analyzed"`
}

// Stuffing thresholds, on login endpoints.
type Stuffing struct {
	// Distinct usernames one source tries in a window (floor 10, multiple 3
	// of the sources' 99th percentile).
	MinUsernames      float64 `yaml:"min_usernames"`
	UsernamesMultiple float64 `yaml:"usernames_multiple"`
	// Attempts on one username in a window (floor 20), mostly failing.
	MinAttempts float64 `yaml:"min_attempts"`
	// Failures of a source or username right before a success: a likely
	// takeover (floor 10).
	MinFailuresBeforeSuccess float64 `yaml:"min_failures_before_success"`
	// Distributed: in the endpoint's window, failures (floor 30) from at
	// least MinSources sources (20) of at most baseline.FewAttempts
	// attempts each, and a failure ratio of at least MinFailureRatio (0.5)
	// and RatioMultiple (3) times the endpoint's usual one.
	MinFailures     float64 `yaml:"min_failures"`
	MinFailureRatio float64 `yaml:"min_failure_ratio"`
	RatioMultiple   float64 `yaml:"ratio_multiple"`
	MinSources      float64 `yaml:"min_sources"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Enumeration: Enumeration{MinObjects: 50, Multiple: 3, SequentialShare: 0.5, DeniedShare: 0.5, ForeignShare: 0.5},
		Exposure: Exposure{MinBytes: 1 << 20, MinRecords: 1000, ResponseMultiple: 10,
			MinActorRecords: 5000, MinActorBytes: 50 << 20, ActorMultiple: 10,
			MinUnauthenticated: 3, UnauthenticatedShare: 0.05, MinAnalyzed: 50},
		Stuffing: Stuffing{MinUsernames: 10, UsernamesMultiple: 3, MinAttempts: 20, MinFailuresBeforeSuccess: 10,
			MinFailures: 30, MinFailureRatio: 0.5, RatioMultiple: 3, MinSources: 20},
		QuietGap: 10 * time.Minute,
	}
}

// over fills c's zero fields from d.
func (c Config) over(d Config) Config {
	fill(&c.Enumeration.MinObjects, d.Enumeration.MinObjects)
	fill(&c.Enumeration.Multiple, d.Enumeration.Multiple)
	fill(&c.Enumeration.SequentialShare, d.Enumeration.SequentialShare)
	fill(&c.Enumeration.DeniedShare, d.Enumeration.DeniedShare)
	fill(&c.Enumeration.ForeignShare, d.Enumeration.ForeignShare)
	fill(&c.Exposure.MinBytes, d.Exposure.MinBytes)
	fill(&c.Exposure.MinRecords, d.Exposure.MinRecords)
	fill(&c.Exposure.ResponseMultiple, d.Exposure.ResponseMultiple)
	fill(&c.Exposure.MinActorRecords, d.Exposure.MinActorRecords)
	fill(&c.Exposure.MinActorBytes, d.Exposure.MinActorBytes)
	fill(&c.Exposure.ActorMultiple, d.Exposure.ActorMultiple)
	fill(&c.Exposure.MinUnauthenticated, d.Exposure.MinUnauthenticated)
	fill(&c.Exposure.UnauthenticatedShare, d.Exposure.UnauthenticatedShare)
	fill(&c.Exposure.MinAnalyzed, d.Exposure.MinAnalyzed)
	fill(&c.Stuffing.MinUsernames, d.Stuffing.MinUsernames)
	fill(&c.Stuffing.UsernamesMultiple, d.Stuffing.UsernamesMultiple)
	fill(&c.Stuffing.MinAttempts, d.Stuffing.MinAttempts)
	fill(&c.Stuffing.MinFailuresBeforeSuccess, d.Stuffing.MinFailuresBeforeSuccess)
	fill(&c.Stuffing.MinFailures, d.Stuffing.MinFailures)
	fill(&c.Stuffing.MinFailureRatio, d.Stuffing.MinFailureRatio)
	fill(&c.Stuffing.RatioMultiple, d.Stuffing.RatioMultiple)
	fill(&c.Stuffing.MinSources, d.Stuffing.MinSources)
	if c.QuietGap <= 0 {
		c.QuietGap = d.QuietGap
	}
	return c
}

func fill(v *float64, d float64) {
	if *v <= 0 {
		*v = d
	}
}

// thresholds are the effective thresholds of one endpoint.
type thresholds struct {
	Enumeration
	Exposure
	Stuffing
	disabled [3]bool // enumeration, data_exposure, credential_stuffing
}

// forEndpoint merges an endpoint's overrides over the defaults.
func (c *Config) forEndpoint(name string) thresholds {
	t := thresholds{Enumeration: c.Enumeration, Exposure: c.Exposure, Stuffing: c.Stuffing}
	o, ok := c.Endpoints[name]
	if !ok {
		return t
	}
	merged := Config{Enumeration: o.Enumeration, Exposure: o.Exposure, Stuffing: o.Stuffing}.over(*c)
	t.Enumeration, t.Exposure, t.Stuffing = merged.Enumeration, merged.Exposure, merged.Stuffing
	for _, d := range o.Disable {
		for i, name := range detectorNames {
			if d == name {
				t.disabled[i] = true
			}
		}
	}
	return t
}
