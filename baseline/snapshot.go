package baseline

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/axiomhq/hyperloglog"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// SnapshotVersion is the version of the snapshot format WriteSnapshot
// writes. ReadSnapshot refuses other versions.
const SnapshotVersion = 1

// A snapshot keeps what an endpoint learned: counts, the field and class
// sets, the sketches, which actor each object was first served to, and the
// windows (of actors, login sources, usernames and the endpoint's logins)
// that were open at the endpoint's last event. A detector that takes over
// the endpoint then goes on where the other stopped: an object served
// before would otherwise look first served to whoever fetches it next, and
// an attack split across the takeover would count only its second part.
// Closed windows are not kept (what they taught is in the sketches), only
// an actor's own learned maximum.
type snapshot struct {
	Version   int                `json:"version"`
	Endpoints []endpointSnapshot `json:"endpoints"`
}

type endpointSnapshot struct {
	Name            string             `json:"name"`
	Events          uint64             `json:"events"`
	First           int64              `json:"first"`
	Last            int64              `json:"last"`
	Status          [6]uint64          `json:"status"`
	Analyzed        uint64             `json:"analyzed"`
	Sensitive       [NumClasses]uint64 `json:"sensitive"`
	UnauthSensitive uint64             `json:"unauth_sensitive"`
	Fields          map[string]uint64  `json:"fields"`
	FieldsDropped   uint64             `json:"fields_dropped"`
	AuthKinds       [8]uint64          `json:"auth_kinds"`
	Logins          uint64             `json:"logins"`
	LoginFailures   uint64             `json:"login_failures"`
	// Sketches in DDSketch's binary encoding.
	Sketches map[string][]byte `json:"sketches"`
	// Owners: the older generation first; absent in snapshots of earlier
	// releases, which then restore without ownership.
	Owners *ownersSnapshot `json:"owners,omitempty"`
	// Open windows of actors, and of login sources and usernames, the
	// older generation first (absent in earlier snapshots).
	Actors    []actorSnapshot `json:"actors,omitempty"`
	Sources   []*Source       `json:"sources,omitempty"`
	Usernames []*Username     `json:"usernames,omitempty"`
	// LoginWindow: the endpoint's, when open.
	LoginWindow *LoginWindow `json:"login_window,omitempty"`
}

// actorSnapshot is an Actor, unexported fields included.
type actorSnapshot struct {
	ID                string    `json:"id"`
	Kind              string    `json:"kind,omitempty"`
	WindowStart       int64     `json:"start"`
	Events            uint32    `json:"events,omitempty"`
	Numeric           uint32    `json:"numeric,omitempty"`
	Sequential        uint32    `json:"sequential,omitempty"`
	Denied            uint32    `json:"denied,omitempty"`
	Foreign           uint32    `json:"foreign,omitempty"`
	Objects           objectSet `json:"objects"`
	Bytes             int64     `json:"bytes,omitempty"`
	Records           int64     `json:"records,omitempty"`
	ClientIPs         []string  `json:"ips,omitempty"`
	Flagged           bool      `json:"flagged,omitempty"`
	Windows           uint32    `json:"windows,omitempty"`
	LearnedMaxObjects uint64    `json:"learned_max,omitempty"`
	LastNumber        uint64    `json:"last_number,omitempty"`
	HasNumber         bool      `json:"has_number,omitempty"`
}

// openWindows returns the values of g whose window (start) opened at or
// after since, the older generation first.
func openWindows[V any](g *twoGen[string, V], start func(V) int64, since int64) []V {
	var out []V
	for _, v := range g.all {
		if start(v) >= since {
			out = append(out, v)
		}
	}
	return out
}

// actorsOf returns the actors with a window opened at or after since, and
// the history of those that have one (the busiest window while the
// endpoint learned, which keeps a sync job from looking like an attack to
// the next owner).
func actorsOf(ep *Endpoint, since int64) []actorSnapshot {
	var out []actorSnapshot
	for _, a := range ep.actors.all {
		v := actorSnapshot{ID: a.ID, Kind: a.Kind, WindowStart: a.WindowStart, Windows: a.Windows, LearnedMaxObjects: a.LearnedMaxObjects}
		switch {
		case a.Events > 0 && a.WindowStart >= since:
			v.Events, v.Numeric, v.Sequential, v.Denied, v.Foreign = a.Events, a.Numeric, a.Sequential, a.Denied, a.Foreign
			v.Objects, v.Bytes, v.Records, v.ClientIPs, v.Flagged = a.Objects, a.Bytes, a.Records, a.ClientIPs, a.Flagged
			v.LastNumber, v.HasNumber = a.lastNumber, a.hasNumber
		case a.LearnedMaxObjects == 0:
			continue
		}
		out = append(out, v)
	}
	return out
}

func openLoginWindow(ep *Endpoint, since int64) *LoginWindow {
	if w := &ep.LoginWindow; w.Sources != nil && w.Start >= since {
		return w
	}
	return nil
}

func (v *actorSnapshot) actor() *Actor {
	return &Actor{ID: v.ID, Kind: v.Kind, WindowStart: v.WindowStart,
		Events: v.Events, Numeric: v.Numeric, Sequential: v.Sequential, Denied: v.Denied, Foreign: v.Foreign,
		Objects: v.Objects, Bytes: v.Bytes, Records: v.Records, ClientIPs: v.ClientIPs[:min(len(v.ClientIPs), MaxClientIPs)],
		Flagged: v.Flagged, Windows: v.Windows, LearnedMaxObjects: v.LearnedMaxObjects, lastNumber: v.LastNumber, hasNumber: v.HasNumber}
}

// MarshalJSON encodes the set as its exact keys (8 bytes each,
// big-endian) or, once estimating, as the HyperLogLog sketch.
func (s objectSet) MarshalJSON() ([]byte, error) {
	var v struct {
		Keys []byte `json:"keys,omitempty"`
		HLL  []byte `json:"hll,omitempty"`
	}
	if s.hll != nil {
		b, err := s.hll.MarshalBinary()
		if err != nil {
			return nil, err
		}
		v.HLL = b
	} else {
		v.Keys = make([]byte, 0, 8*len(s.exact))
		for k := range s.exact {
			v.Keys = binary.BigEndian.AppendUint64(v.Keys, k)
		}
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (s *objectSet) UnmarshalJSON(b []byte) error {
	var v struct {
		Keys []byte `json:"keys"`
		HLL  []byte `json:"hll"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.reset()
	if v.HLL != nil {
		s.hll = hyperloglog.New14()
		return s.hll.UnmarshalBinary(v.HLL)
	}
	if len(v.Keys)%8 != 0 {
		return errors.New("object set cut short")
	}
	s.exact = make(map[uint64]struct{}, len(v.Keys)/8)
	for k := v.Keys; len(k) > 0; k = k[8:] {
		s.exact[binary.BigEndian.Uint64(k)] = struct{}{}
	}
	return nil
}

// ownersSnapshot is object ownership compactly: the owning actors once
// each, and per object its key (8 bytes, big-endian) followed by the
// index of its owner in Actors (uvarint).
type ownersSnapshot struct {
	Actors  []string `json:"actors"`
	Objects []byte   `json:"objects"`
}

func ownersOf(g *twoGen[uint64, string]) *ownersSnapshot {
	if g.len() == 0 {
		return nil
	}
	o := &ownersSnapshot{Objects: make([]byte, 0, g.len()*10)}
	index := map[string]uint64{}
	for key, actor := range g.all {
		i, ok := index[actor]
		if !ok {
			i = uint64(len(o.Actors))
			index[actor] = i
			o.Actors = append(o.Actors, actor)
		}
		o.Objects = binary.BigEndian.AppendUint64(o.Objects, key)
		o.Objects = binary.AppendUvarint(o.Objects, i)
	}
	return o
}

func (o *ownersSnapshot) restore(g *twoGen[uint64, string]) error {
	for b := o.Objects; len(b) > 0; {
		if len(b) < 9 {
			return errors.New("owners cut short")
		}
		key := binary.BigEndian.Uint64(b)
		i, n := binary.Uvarint(b[8:])
		if n <= 0 || i >= uint64(len(o.Actors)) {
			return errors.New("owners: bad actor index")
		}
		g.put(key, o.Actors[i])
		b = b[8+n:]
	}
	return nil
}

// MarshalEndpoint encodes one endpoint's baseline (the unit a distributed
// detector stores and restores per endpoint).
func (s *Store) MarshalEndpoint(ep *Endpoint) ([]byte, error) {
	return json.Marshal(struct {
		Version int `json:"version"`
		endpointSnapshot
	}{SnapshotVersion, s.snapshotOf(ep)})
}

// UnmarshalEndpoint decodes what MarshalEndpoint wrote and puts the
// endpoint into s, replacing what s knew of it.
func (s *Store) UnmarshalEndpoint(b []byte) error {
	var v struct {
		Version int `json:"version"`
		endpointSnapshot
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("baseline: endpoint snapshot: %w", err)
	}
	if v.Version != SnapshotVersion {
		return versionError(v.Version)
	}
	return s.restore(&v.endpointSnapshot)
}

// WriteSnapshot writes every endpoint's baseline to w.
func (s *Store) WriteSnapshot(w io.Writer) error {
	snap := snapshot{Version: SnapshotVersion}
	s.Endpoints(func(ep *Endpoint) { snap.Endpoints = append(snap.Endpoints, s.snapshotOf(ep)) })
	enc := json.NewEncoder(w)
	if err := enc.Encode(&snap); err != nil {
		return fmt.Errorf("baseline: write snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot restores the endpoints of a snapshot into s.
func (s *Store) ReadSnapshot(r io.Reader) error {
	var snap snapshot
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("baseline: read snapshot: %w (is this a file written by --baseline-out?)", err)
	}
	if snap.Version != SnapshotVersion {
		return versionError(snap.Version)
	}
	for i := range snap.Endpoints {
		if err := s.restore(&snap.Endpoints[i]); err != nil {
			return err
		}
	}
	return nil
}

func versionError(v int) error {
	return fmt.Errorf("baseline: snapshot version %d, this apiwatch reads version %d: relearn (start without the snapshot) or use a matching apiwatch", v, SnapshotVersion)
}

func (s *Store) snapshotOf(ep *Endpoint) endpointSnapshot {
	since := ep.Last - int64(s.cfg.Window) // windows opened since are open
	sk := map[string][]byte{}
	for name, d := range ep.sketches() {
		var b []byte
		(*d).Encode(&b, false)
		sk[name] = b
	}
	return endpointSnapshot{
		Name: ep.Name, Events: ep.Events, First: ep.First, Last: ep.Last, Status: ep.Status,
		Analyzed: ep.Analyzed, Sensitive: ep.Sensitive, UnauthSensitive: ep.UnauthSensitive,
		Fields: ep.Fields, FieldsDropped: ep.FieldsDropped, AuthKinds: ep.AuthKinds,
		Logins: ep.Logins, LoginFailures: ep.LoginFailures, Sketches: sk, Owners: ownersOf(&ep.owners), Actors: actorsOf(ep, since),
		Sources:     openWindows(&ep.sources, func(v *Source) int64 { return v.WindowStart }, since),
		Usernames:   openWindows(&ep.usernames, func(v *Username) int64 { return v.WindowStart }, since),
		LoginWindow: openLoginWindow(ep, since),
	}
}

func (s *Store) restore(v *endpointSnapshot) error {
	ep := newEndpoint(v.Name, &s.cfg)
	ep.Events, ep.First, ep.Last, ep.Status = v.Events, v.First, v.Last, v.Status
	ep.Analyzed, ep.Sensitive, ep.UnauthSensitive = v.Analyzed, v.Sensitive, v.UnauthSensitive
	ep.FieldsDropped, ep.AuthKinds, ep.Logins, ep.LoginFailures = v.FieldsDropped, v.AuthKinds, v.Logins, v.LoginFailures
	for f, n := range v.Fields {
		if len(ep.Fields) >= s.cfg.MaxFields {
			break
		}
		ep.Fields[f] = n
	}
	m, err := mapping.NewLogarithmicMapping(sketchAccuracy)
	if err != nil {
		return err
	}
	for name, s := range ep.sketches() {
		b, ok := v.Sketches[name]
		if !ok {
			continue
		}
		d, err := ddsketch.DecodeDDSketch(b, func() store.Store { return store.NewCollapsingLowestDenseStore(sketchBins) }, m)
		if err != nil {
			return fmt.Errorf("baseline: endpoint %q sketch %s: %w", v.Name, name, err)
		}
		*s = d
	}
	if v.Owners != nil {
		if err := v.Owners.restore(&ep.owners); err != nil {
			return fmt.Errorf("baseline: endpoint %q: %w", v.Name, err)
		}
	}
	for i := range v.Actors {
		a := v.Actors[i].actor()
		a.Objects.limitTo(s.cfg.MaxExactObjects)
		ep.actors.put(a.ID, a)
	}
	for _, src := range v.Sources {
		src.Usernames.limitTo(s.cfg.MaxExactObjects)
		ep.sources.put(src.IP, src)
	}
	if v.LoginWindow != nil {
		ep.LoginWindow = *v.LoginWindow
	}
	for _, u := range v.Usernames {
		u.Sources.limitTo(s.cfg.MaxExactObjects)
		u.ClientIPs, u.RunSources = u.ClientIPs[:min(len(u.ClientIPs), MaxClientIPs)], u.RunSources[:min(len(u.RunSources), MaxClientIPs)]
		ep.usernames.put(u.Hash, u)
	}
	s.endpoints.put(ep.Name, ep)
	s.added(ep)
	return nil
}

// sketches names the endpoint's sketches for snapshots.
func (ep *Endpoint) sketches() map[string]**ddsketch.DDSketch {
	return map[string]**ddsketch.DDSketch{
		"rate": &ep.Rate, "latency_ms": &ep.Latency, "bytes": &ep.Bytes, "records": &ep.Records,
		"actor_objects": &ep.ActorObjects, "actor_records": &ep.ActorRecords, "actor_bytes": &ep.ActorBytes,
		"source_usernames": &ep.SourceUsernames, "window_failure_ratios": &ep.WindowFailureRatios,
	}
}
