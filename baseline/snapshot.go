package baseline

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

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
// actors' windows that were open at the endpoint's last event (with their
// history). A detector that takes over the endpoint then goes on where the
// other stopped: an object served before would otherwise look first served
// to whoever fetches it next, and an enumeration split across the takeover
// would count only its second part. Closed windows and the login windows
// of sources and usernames are not kept: they are relearnt within one
// window.
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
	// Owners: least recently used first; absent in snapshots of earlier
	// releases, which then restore without ownership.
	Owners *ownersSnapshot `json:"owners,omitempty"`
	// Actors: open windows, least recently used first (absent before).
	Actors []actorSnapshot `json:"actors,omitempty"`
}

// actorSnapshot is an Actor; Objects holds the exact keys (8 bytes each,
// big-endian) or, once estimating, the HyperLogLog sketch (HLL set).
type actorSnapshot struct {
	ID, Kind                                     string
	WindowStart                                  int64
	Events, Numeric, Sequential, Denied, Foreign uint32
	Objects                                      []byte
	HLL                                          bool `json:",omitempty"`
	Bytes, Records                               int64
	ClientIPs                                    []string
	Flagged                                      bool
	Windows                                      uint32
	LearnedMaxObjects, LastNumber                uint64
	HasNumber                                    bool
}

// actorsOf returns the actors whose window was open at the endpoint's last
// event.
func actorsOf(ep *Endpoint, window time.Duration) ([]actorSnapshot, error) {
	var out []actorSnapshot
	for _, m := range [...]map[string]*Actor{ep.actors.old, ep.actors.cur} {
		for _, a := range m {
			if a.Events == 0 || a.WindowStart < ep.Last-int64(window) {
				continue
			}
			v := actorSnapshot{ID: a.ID, Kind: a.Kind, WindowStart: a.WindowStart,
				Events: a.Events, Numeric: a.Numeric, Sequential: a.Sequential, Denied: a.Denied, Foreign: a.Foreign,
				Bytes: a.Bytes, Records: a.Records, ClientIPs: a.ClientIPs, Flagged: a.Flagged,
				Windows: a.Windows, LearnedMaxObjects: a.LearnedMaxObjects, LastNumber: a.lastNumber, HasNumber: a.hasNumber}
			if a.Objects.hll != nil {
				b, err := a.Objects.hll.MarshalBinary()
				if err != nil {
					return nil, err
				}
				v.Objects, v.HLL = b, true
			} else {
				v.Objects = make([]byte, 0, 8*len(a.Objects.exact))
				for k := range a.Objects.exact {
					v.Objects = binary.BigEndian.AppendUint64(v.Objects, k)
				}
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func (v *actorSnapshot) restore(g *twoGen[string, *Actor]) error {
	a := &Actor{ID: v.ID, Kind: v.Kind, WindowStart: v.WindowStart,
		Events: v.Events, Numeric: v.Numeric, Sequential: v.Sequential, Denied: v.Denied, Foreign: v.Foreign,
		Bytes: v.Bytes, Records: v.Records, ClientIPs: v.ClientIPs[:min(len(v.ClientIPs), MaxClientIPs)], Flagged: v.Flagged,
		Windows: v.Windows, LearnedMaxObjects: v.LearnedMaxObjects, lastNumber: v.LastNumber, hasNumber: v.HasNumber}
	if v.HLL {
		a.Objects.hll = hyperloglog.New14()
		if err := a.Objects.hll.UnmarshalBinary(v.Objects); err != nil {
			return fmt.Errorf("actor objects: %w", err)
		}
	} else {
		if len(v.Objects)%8 != 0 {
			return errors.New("actor objects cut short")
		}
		a.Objects.exact = make(map[uint64]struct{}, len(v.Objects)/8)
		for b := v.Objects; len(b) > 0; b = b[8:] {
			a.Objects.exact[binary.BigEndian.Uint64(b)] = struct{}{}
		}
	}
	g.put(a.ID, a)
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
	for _, m := range [...]map[uint64]string{g.old, g.cur} {
		for key, actor := range m {
			i, ok := index[actor]
			if !ok {
				i = uint64(len(o.Actors))
				index[actor] = i
				o.Actors = append(o.Actors, actor)
			}
			o.Objects = binary.BigEndian.AppendUint64(o.Objects, key)
			o.Objects = binary.AppendUvarint(o.Objects, i)
		}
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
	snap, err := s.snapshotOf(ep)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Version int `json:"version"`
		endpointSnapshot
	}{SnapshotVersion, snap})
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
	var err error
	s.Endpoints(func(ep *Endpoint) {
		if err != nil {
			return
		}
		var v endpointSnapshot
		v, err = s.snapshotOf(ep)
		snap.Endpoints = append(snap.Endpoints, v)
	})
	if err != nil {
		return fmt.Errorf("baseline: write snapshot: %w", err)
	}
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

func (s *Store) snapshotOf(ep *Endpoint) (endpointSnapshot, error) {
	actors, err := actorsOf(ep, s.cfg.Window)
	if err != nil {
		return endpointSnapshot{}, fmt.Errorf("endpoint %q: %w", ep.Name, err)
	}
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
		Logins: ep.Logins, LoginFailures: ep.LoginFailures, Sketches: sk, Owners: ownersOf(&ep.owners), Actors: actors,
	}, nil
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
		if err := v.Actors[i].restore(&ep.actors); err != nil {
			return fmt.Errorf("baseline: endpoint %q actor: %w", v.Name, err)
		}
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
