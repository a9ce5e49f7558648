package baseline

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// SnapshotVersion is the version of the snapshot format WriteSnapshot
// writes. ReadSnapshot refuses other versions.
const SnapshotVersion = 1

// A snapshot keeps what an endpoint learned: counts, the field and class
// sets, and the sketches. Per-actor windows and object ownership are not
// kept: they describe the last minutes, which a restarted detector relearns
// within one window.
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
}

// MarshalEndpoint encodes one endpoint's baseline (the unit a distributed
// detector stores and restores per endpoint).
func MarshalEndpoint(ep *Endpoint) ([]byte, error) {
	return json.Marshal(struct {
		Version int `json:"version"`
		endpointSnapshot
	}{SnapshotVersion, snapshotOf(ep)})
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
	s.Endpoints(func(ep *Endpoint) { snap.Endpoints = append(snap.Endpoints, snapshotOf(ep)) })
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

func snapshotOf(ep *Endpoint) endpointSnapshot {
	sk := map[string][]byte{}
	for name, s := range ep.sketches() {
		var b []byte
		(*s).Encode(&b, false)
		sk[name] = b
	}
	return endpointSnapshot{
		Name: ep.Name, Events: ep.Events, First: ep.First, Last: ep.Last, Status: ep.Status,
		Analyzed: ep.Analyzed, Sensitive: ep.Sensitive, UnauthSensitive: ep.UnauthSensitive,
		Fields: ep.Fields, FieldsDropped: ep.FieldsDropped, AuthKinds: ep.AuthKinds,
		Logins: ep.Logins, LoginFailures: ep.LoginFailures, Sketches: sk,
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
