package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
)

// EventRow is an API event as the events table stores it. Events are
// reused by their producers, so a row copies what it keeps.
type EventRow struct {
	Time                                 time.Time
	SensorID                             string
	Kind                                 string
	LatencyUS                            uint32
	ClientIP, SrcIP, DstIP               [16]byte
	SrcPort, DstPort                     uint16
	Method, Host, Endpoint, Template     string
	Path                                 string
	Shadow                               uint8
	Status                               uint16
	RequestBytes, ResponseBytes, Records int64
	ContentType                          string
	FieldPaths, SensitiveClasses         []string
	SensitiveCounts                      []uint32
	ActorID, ActorKind                   string
	ObjectIDs                            []string
	LoginUser, LoginOutcome              string
	Quality                              []string
	UserAgent, SNI, JA4                  string
}

// NewEventRow copies an event into a row.
func NewEventRow(e *event.APIEvent) EventRow {
	r := EventRow{Time: time.Unix(0, e.RequestStartNs).UTC(), SensorID: e.SensorId, Kind: "http",
		LatencyUS: uint32(min(max(e.LatencyNs/1000, 0), 1<<32-1)), ClientIP: ip16(e.ClientIp)}
	if e.Kind == event.Kind_KIND_TLS {
		r.Kind = "tls"
	}
	if f := e.Flow; f != nil {
		r.SrcIP, r.DstIP, r.SrcPort, r.DstPort = ip16(f.SrcIp), ip16(f.DstIp), uint16(f.SrcPort), uint16(f.DstPort)
	}
	if q := e.Request; q != nil {
		r.Method, r.Host, r.Endpoint, r.Template, r.Path = q.Method, q.Host, q.Endpoint, q.Template, q.Path
		r.RequestBytes, r.UserAgent = q.BodyBytes, q.UserAgent
		if q.Shadow {
			r.Shadow = 1
		}
	}
	r.Records = -1
	if p := e.Response; p != nil {
		r.Status, r.ResponseBytes, r.ContentType = uint16(p.Status), p.BodyBytes, p.ContentType
		if sh := p.Shape; sh != nil {
			r.Records, r.FieldPaths = sh.Records, append([]string(nil), sh.FieldPaths...)
		}
		for _, s := range p.Sensitive {
			r.SensitiveClasses = append(r.SensitiveClasses, className(s.Class))
			r.SensitiveCounts = append(r.SensitiveCounts, s.Count)
		}
	}
	if a := e.Actor; a != nil {
		r.ActorID, r.ActorKind = a.Id, strings.ToLower(strings.TrimPrefix(a.Kind.String(), "ACTOR_KIND_"))
	}
	for _, o := range e.ObjectIds {
		switch v := o.Value.(type) {
		case *event.ObjectID_Number:
			r.ObjectIDs = append(r.ObjectIDs, strconv.FormatUint(v.Number, 10))
		case *event.ObjectID_Hash:
			r.ObjectIDs = append(r.ObjectIDs, v.Hash)
		}
	}
	if l := e.Login; l != nil {
		r.LoginUser = l.UsernameHash
		r.LoginOutcome = strings.ToLower(strings.TrimPrefix(l.Outcome.String(), "LOGIN_OUTCOME_"))
	}
	for _, q := range e.Quality {
		r.Quality = append(r.Quality, strings.ToLower(strings.TrimPrefix(q.String(), "QUALITY_")))
	}
	if t := e.Tls; t != nil {
		r.SNI, r.JA4 = t.Sni, t.Ja4
	}
	return r
}

func className(c event.SensitiveClass) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "SENSITIVE_CLASS_"))
}

// ip16 is an address in the 16-byte form the tables keep (IPv4 mapped into
// IPv6, as ClickHouse's IPv6StringToNum makes it); zero when unparsable.
func ip16(s string) [16]byte {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return [16]byte{}
	}
	return a.As16()
}

// appendEvents appends rows column by column: the driver then copies
// typed slices instead of converting every value of every row.
func appendEvents(b driver.Batch, rows []EventRow) error {
	n := len(rows)
	var (
		dates, times                           = make([]time.Time, n), make([]time.Time, n)
		timeNS, latency                        = make([]uint32, n), make([]uint32, n)
		sensor, kind, client, src, dst         = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		srcPort, dstPort, status               = make([]uint16, n), make([]uint16, n), make([]uint16, n)
		method, host, endpoint, template, path = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		shadow                                 = make([]uint8, n)
		reqBytes, respBytes, records           = make([]int64, n), make([]int64, n), make([]int64, n)
		ctype, actor, actorKind, user, outcome = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		fields, classes, objects, quality      = make([][]string, n), make([][]string, n), make([][]string, n), make([][]string, n)
		counts                                 = make([][]uint32, n)
		ua, sni, ja4                           = make([]string, n), make([]string, n), make([]string, n)
	)
	for i := range rows {
		r := &rows[i]
		dates[i], times[i], timeNS[i], latency[i] = r.Time.Truncate(24*time.Hour), r.Time, uint32(r.Time.Nanosecond()), r.LatencyUS
		sensor[i], kind[i] = r.SensorID, r.Kind
		client[i], src[i], dst[i] = string(r.ClientIP[:]), string(r.SrcIP[:]), string(r.DstIP[:])
		srcPort[i], dstPort[i], status[i] = r.SrcPort, r.DstPort, r.Status
		method[i], host[i], endpoint[i], template[i], path[i] = r.Method, r.Host, r.Endpoint, r.Template, r.Path
		shadow[i], reqBytes[i], respBytes[i], records[i] = r.Shadow, r.RequestBytes, r.ResponseBytes, r.Records
		ctype[i], actor[i], actorKind[i], user[i], outcome[i] = r.ContentType, r.ActorID, r.ActorKind, r.LoginUser, r.LoginOutcome
		fields[i], classes[i], objects[i], quality[i] = nonNil(r.FieldPaths), nonNil(r.SensitiveClasses), nonNil(r.ObjectIDs), nonNil(r.Quality)
		counts[i] = nonNil(r.SensitiveCounts)
		ua[i], sni[i], ja4[i] = r.UserAgent, r.SNI, r.JA4
	}
	// In the table's column order (migrate.go).
	for i, col := range []any{dates, times, timeNS, sensor, kind, latency, client, src, dst, srcPort, dstPort,
		method, host, endpoint, template, path, shadow, status, reqBytes, respBytes, records, ctype,
		fields, classes, counts, actor, actorKind, objects, user, outcome, quality, ua, sni, ja4} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("events column %d: %w", i, err)
		}
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteEvents inserts events and returns once the server acknowledged
// them: for a consumer that commits its offsets only after that.
func (s *Store) WriteEvents(ctx context.Context, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	if err := insert(ctx, s, "events", rows, appendEvents); err != nil {
		return fmt.Errorf("clickhouse events: %w", err)
	}
	return nil
}

// WriteFindings inserts finding versions and returns once acknowledged.
func (s *Store) WriteFindings(ctx context.Context, fs []finding.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	if err := insert(ctx, s, "findings", fs, eachRow(appendFinding)); err != nil {
		return fmt.Errorf("clickhouse findings: %w", err)
	}
	return nil
}

// EventWriter returns a writer of the events table.
func (s *Store) EventWriter(cfg WriterConfig) *Writer[EventRow] {
	return newWriter(s, "events", cfg, appendEvents)
}

// FindingWriter returns a writer of the findings table. Write every
// version of a finding: the table keeps the latest.
func (s *Store) FindingWriter(cfg WriterConfig) *Writer[finding.Finding] {
	return newWriter(s, "findings", cfg, eachRow(appendFinding))
}

func appendFinding(b driver.Batch, f *finding.Finding) error {
	evidence, err := json.Marshal(f.Evidence)
	if err != nil {
		return err
	}
	samples, err := json.Marshal(f.Samples)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(f.Counts))
	for k := range f.Counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	values := make([]int64, len(keys))
	for i, k := range keys {
		values[i] = f.Counts[k]
	}
	sec, us := splitTime(f.FirstSeen.Time)
	last, lastUS := splitTime(f.LastSeen.Time)
	det, detUS := splitTime(f.DetectedAt.Time)
	return b.Append(sec.Truncate(24*time.Hour), f.ID, f.Version, f.Detector, f.Kind, f.Severity.String(), f.Endpoint,
		f.Actor, f.ActorKind, f.Subject, nonNil(f.ClientIPs), sec, us, last, lastUS, det, detUS,
		uint64(max(f.Counts["events"], 0)), keys, values, string(evidence), f.Summary, string(samples))
}

// splitTime splits t into whole seconds and microseconds.
func splitTime(t time.Time) (time.Time, uint32) {
	t = t.UTC()
	return t.Truncate(time.Second), uint32(t.Nanosecond() / 1000)
}

// SaveBaselines writes every endpoint's baseline snapshot.
func (s *Store) SaveBaselines(ctx context.Context, bs *baseline.Store, at time.Time) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.t("baselines"))
	if err != nil {
		return fmt.Errorf("clickhouse baselines: %w", err)
	}
	version := uint64(at.UnixNano())
	var encErr error
	bs.Endpoints(func(ep *baseline.Endpoint) {
		snap, err := bs.MarshalEndpoint(ep)
		if err == nil {
			err = b.Append(ep.Name, at.UTC().Truncate(time.Second), version, string(snap))
		}
		if err != nil && encErr == nil {
			encErr = err
		}
	})
	if encErr != nil {
		return fmt.Errorf("clickhouse baselines: %w", errors.Join(encErr, b.Abort()))
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse baselines: %w", err)
	}
	return nil
}

// BaselineEndpoints returns the endpoints that have a stored baseline.
func (s *Store) BaselineEndpoints(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT endpoint FROM "+s.t("baselines"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse baselines: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// LoadBaselines restores the stored baselines of the given endpoints (all
// when none are given) into bs, and returns how many it restored.
func (s *Store) LoadBaselines(ctx context.Context, bs *baseline.Store, endpoints ...string) (int, error) {
	var w where
	w.in("endpoint", endpoints)
	rows, err := s.conn.Query(ctx, "SELECT snapshot FROM "+s.t("baselines")+" FINAL"+w.sql(), w.args...)
	if err != nil {
		return 0, fmt.Errorf("clickhouse baselines: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var snap string
		if err := rows.Scan(&snap); err != nil {
			return n, err
		}
		if err := bs.UnmarshalEndpoint([]byte(snap)); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
