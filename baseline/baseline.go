// Package baseline learns, from API events, what is normal per endpoint:
// streaming statistics (quantile sketches of latency, response size and
// records; status mix; field paths and sensitive classes seen; auth kinds;
// login failure ratio) and, per actor, windowed counts (distinct objects,
// bytes and records pulled, login attempts). The detectors in detect read
// it; it decides nothing itself.
//
// State is bounded (Config's caps; see Memory) and can be snapshotted and
// restored (snapshot.go), so a restarted detector does not relearn from
// zero.
package baseline

import (
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/apiwatch/apiwatch/event"
)

// Config bounds and paces learning. The zero value uses the defaults.
type Config struct {
	// Window is the length of the per-actor, per-source and per-username
	// windows that counts (distinct objects, records, login attempts) are
	// kept over. Default 1m.
	Window time.Duration
	// An endpoint is learned once it has seen LearnEvents events over at
	// least LearnDuration of capture time; before that detectors use their
	// absolute floors only. Defaults 200 and 5m.
	LearnEvents   int
	LearnDuration time.Duration
	// MaxEndpoints caps the endpoints kept (least recently seen evicted).
	// Default 5000.
	MaxEndpoints int
	// MaxActors caps the actors kept per endpoint, and MaxSources and
	// MaxUsernames the login sources and usernames (least recently seen
	// evicted). Defaults 20000, 20000, 20000.
	MaxActors, MaxSources, MaxUsernames int
	// MaxActorsTotal caps the actors (and sources, and usernames) kept over
	// all endpoints: each endpoint's cap is its share of it, at least 64.
	// Default 200000.
	MaxActorsTotal int
	// MaxExactObjects: an actor's distinct objects in a window are counted
	// exactly up to this many, then estimated (HyperLogLog). Default 256.
	MaxExactObjects int
	// MaxOwners caps the object-ownership entries per endpoint (the actor
	// an object was first served to), MaxOwnersTotal all of them (shared
	// like MaxActorsTotal). Defaults 100000 and 2000000.
	MaxOwners, MaxOwnersTotal int
	// MaxFields caps the distinct field paths remembered per endpoint.
	// Default 1024.
	MaxFields int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.LearnDuration <= 0 {
		c.LearnDuration = 5 * time.Minute
	}
	def(&c.LearnEvents, 200)
	def(&c.MaxEndpoints, 5000)
	def(&c.MaxActors, 20000)
	def(&c.MaxSources, 20000)
	def(&c.MaxUsernames, 20000)
	def(&c.MaxExactObjects, 256)
	def(&c.MaxOwners, 100000)
	def(&c.MaxActorsTotal, 200000)
	def(&c.MaxOwnersTotal, 2000000)
	def(&c.MaxFields, 1024)
	return c
}

// NumClasses is the number of sensitive-data classes (event.SensitiveClass
// values 1..NumClasses).
const NumClasses = 10

// Endpoint is what is known of one endpoint ("METHOD host /template").
type Endpoint struct {
	Name        string
	Events      uint64
	First, Last int64 // capture time, ns
	Status      [6]uint64
	// Rate sketches requests per window (one value per closed window).
	Rate                  *ddsketch.DDSketch
	rateStart, rateEvents int64
	// Sketches of the responses: latency (ms), decoded body bytes, and
	// records (analysed JSON bodies).
	Latency, Bytes, Records *ddsketch.DDSketch
	// Sketches over closed actor windows: distinct objects, records and
	// bytes one actor pulled in one window. Windows flagged by a detector
	// are left out, so an attack does not become the norm.
	ActorObjects, ActorRecords, ActorBytes *ddsketch.DDSketch
	// Analysed responses, and how many held each sensitive class.
	Analyzed  uint64
	Sensitive [NumClasses]uint64
	// Responses with sensitive data served to callers without credentials.
	UnauthSensitive uint64
	// Field paths of analysed responses, with how many held each.
	Fields        map[string]uint64
	FieldsDropped uint64
	AuthKinds     [8]uint64
	// Logins: attempts and failures; per closed source window, the distinct
	// usernames one source tried.
	Logins, LoginFailures uint64
	SourceUsernames       *ddsketch.DDSketch
	// WindowFailureRatios sketches the failure ratio of past login windows
	// (×1, in [0,1]).
	WindowFailureRatios *ddsketch.DDSketch
	// LoginWindow is the endpoint's current login window (all sources).
	LoginWindow LoginWindow

	actors    twoGen[string, *Actor]
	sources   twoGen[string, *Source]
	usernames twoGen[string, *Username]
	owners    twoGen[uint64, string]
}

// LoginWindow counts an endpoint's logins in the current window.
type LoginWindow struct {
	Start              int64
	Attempts, Failures uint64
	// Sources holds attempts and failures per source (at most the
	// endpoint's source cap; later sources are counted in the totals only).
	Sources map[string]*SourceCount
	// FewSources are the sources with at most FewAttempts attempts in the
	// window, and FewFailures their failures: a distributed attack is many
	// of those, whatever one noisy source adds.
	FewSources, FewFailures uint64
	// Flagged is set by a detector: the window is not learned from.
	Flagged bool
}

// SourceCount is one source's logins in a LoginWindow.
type SourceCount struct{ Attempts, Failures uint32 }

// FewAttempts is the most attempts a source may make in a login window and
// still count among LoginWindow.FewSources.
const FewAttempts = 5

// Learned reports whether the endpoint's learning period is over.
func (ep *Endpoint) Learned(cfg *Config) bool {
	return ep.Events >= uint64(cfg.LearnEvents) && time.Duration(ep.Last-ep.First) >= cfg.LearnDuration
}

// FailureRatio is the endpoint's usual login failure ratio: the median
// over its past windows (with at least 10 attempts, not flagged by a
// detector), or over all its logins while it has no such window.
func (ep *Endpoint) FailureRatio() float64 {
	if ep.WindowFailureRatios != nil && !ep.WindowFailureRatios.IsEmpty() {
		return Quantile(ep.WindowFailureRatios, 0.5)
	}
	if ep.Logins == 0 {
		return 0
	}
	return float64(ep.LoginFailures) / float64(ep.Logins)
}

// Quantile returns the q-quantile of sketch s, 0 when it is empty.
func Quantile(s *ddsketch.DDSketch, q float64) float64 {
	if s == nil || s.IsEmpty() {
		return 0
	}
	v, err := s.GetValueAtQuantile(q)
	if err != nil {
		return 0
	}
	return v
}

const (
	sketchAccuracy = 0.01
	sketchBins     = 512
)

// newSketch returns the sketch used everywhere: 1% relative accuracy, at
// most 512 bins (about 4 KiB), collapsing the lowest values first.
func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(sketchAccuracy, sketchBins)
	if err != nil {
		panic(err) // constant arguments
	}
	return s
}

func newEndpoint(name string, cfg *Config) *Endpoint {
	return &Endpoint{
		Name: name, Rate: newSketch(), Latency: newSketch(), Bytes: newSketch(), Records: newSketch(),
		ActorObjects: newSketch(), ActorRecords: newSketch(), ActorBytes: newSketch(),
		SourceUsernames: newSketch(), WindowFailureRatios: newSketch(), Fields: make(map[string]uint64),
		actors:    newTwoGen[string, *Actor](cfg.MaxActors),
		sources:   newTwoGen[string, *Source](cfg.MaxSources),
		usernames: newTwoGen[string, *Username](cfg.MaxUsernames),
		owners:    newTwoGen[uint64, string](cfg.MaxOwners),
	}
}

// Actors, Sources and Usernames report how many of each the endpoint keeps.
func (ep *Endpoint) Actors() int    { return ep.actors.len() }
func (ep *Endpoint) Sources() int   { return ep.sources.len() }
func (ep *Endpoint) Usernames() int { return ep.usernames.len() }

// Observation is what Store.Observe learned from one event, for the
// detectors: the endpoint (already updated), and the windows the event
// counted in. Valid until the next Observe.
type Observation struct {
	Event    *event.APIEvent
	Endpoint *Endpoint
	Time     int64 // capture time of the event, ns
	// Learned reports whether the endpoint was learned before this event.
	Learned bool
	// Actor is the caller's window on this endpoint (nil without actor).
	Actor *Actor
	// NewClasses has bit c-1 set for each sensitive class c the response
	// held that the endpoint never returned before; NewFields lists field
	// paths it never returned before (both only once the endpoint had
	// analysed responses).
	NewClasses uint16
	NewFields  []string
	// Unauthenticated: the caller presented no credential.
	Unauthenticated bool
	// SensitiveClasses has bit c-1 set for each class in the response.
	SensitiveClasses uint16
	// For logins: the source's and the username's windows (nil otherwise).
	Source   *Source
	Username *Username
	Outcome  event.LoginOutcome
}

// Now returns the observation's capture time.
func (o *Observation) Now() time.Time { return time.Unix(0, o.Time).UTC() }
