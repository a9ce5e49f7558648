package storage

// The read queries of the Grafana plugin and the dashboards. Every time
// range is [from, to); a zero from or to leaves that side open. Values are
// always bound parameters; only table names (s.t) and fixed SQL are
// written into the text.
//
// Precision: findings keep microseconds and are compared at that
// precision; events keep nanoseconds; the inventory keeps whole seconds;
// the per-minute series (Rates, LoginOutcomes, TopActors) count the minutes
// whose start lies in [from, to), so adjacent ranges never count a minute
// twice.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/finding"
)

// ErrNotFound is returned (wrapped) for a finding id the store does not
// hold.
var ErrNotFound = errors.New("not found")

// DefaultFindingsLimit bounds Findings when FindingFilter.Limit is not set.
const DefaultFindingsLimit = 1000

// DefaultTopActors is how many actors TopActors returns when limit is not
// set.
const DefaultTopActors = 10

// FindingEventsLimit bounds the events Finding returns.
const FindingEventsLimit = 50

// FindingFilter selects findings. Empty lists select everything; several
// values in one list are alternatives, the lists together must all match.
type FindingFilter struct {
	// From and To select the findings whose incident overlaps [From, To):
	// first seen before To, last seen at or after From.
	From, To   time.Time
	Detectors  []string // finding.Enumeration, …
	Severities []string // "low", "medium", "high", "critical"
	Endpoints  []string // "METHOD host /template"
	Actors     []string // actor ids
	// Limit bounds the result (DefaultFindingsLimit when 0 or less).
	Limit int
}

// EventSummary is one API event as a finding's drill-down shows it.
type EventSummary struct {
	Time             time.Time // capture time, nanoseconds, UTC
	ClientIP         string    // IPv4 addresses in dotted form; "" when unknown
	Method           string
	Path             string // query values redacted, as in the event
	Status           uint16 // 0: no response
	ResponseBytes    int64
	Records          int64 // -1: the body was not analysed
	ActorID          string
	SensitiveClasses []string
}

// EndpointSummary is one endpoint of the inventory. Its numbers cover the
// endpoint's whole history, not only the range it was selected by.
type EndpointSummary struct {
	Endpoint            string    // "METHOD host /template"
	FirstSeen, LastSeen time.Time // whole seconds, UTC
	Calls               uint64
	Methods             []string // sorted
	Statuses            []uint16 // sorted; 0: requests without a response
	AuthKinds           []string // sorted actor kinds: jwt, api_key, client_ip, …
	SensitiveClasses    []string // sorted
	Shadow              bool     // missing from the imported OpenAPI specs
}

// ActorSummary is one actor's traffic over a range.
type ActorSummary struct {
	ActorID  string
	Requests uint64
	Errors   uint64 // status 400 and above
	Bytes    int64  // response bytes
	Records  int64  // records in the analysed responses
}

// RateFilter selects a per-minute series. An empty Endpoint or Actor
// means all.
type RateFilter struct {
	Endpoint, Actor string
	From, To        time.Time
}

// RatePoint is one minute of traffic.
type RatePoint struct {
	Minute        time.Time // start of the minute, UTC
	Requests      uint64
	Errors        uint64 // status 400 and above
	Bytes         int64  // response bytes
	Records       int64  // records in the analysed responses
	LoginFailures uint64
}

// LoginPoint is one minute of login attempts.
type LoginPoint struct {
	Minute    time.Time // start of the minute, UTC
	Attempts  uint64    // every login, whatever its outcome
	Successes uint64
	Failures  uint64
	Usernames uint64 // distinct username hashes
	Sources   uint64 // distinct client addresses
}

// findingColumns are read by scanFinding, in this order.
const findingColumns = `id, version, detector, kind, toString(severity), endpoint, actor, actor_kind, subject, client_ips,
	first_seen, first_seen_us, last_seen, last_seen_us, detected_at, detected_at_us,
	counts_keys, counts_values, evidence, summary, samples`

// Findings returns the latest version of each finding the filter selects,
// newest incident (first seen) first.
func (s *Store) Findings(ctx context.Context, f FindingFilter) ([]finding.Finding, error) {
	w, err := findingConditions(f)
	if err != nil {
		return nil, err
	}
	return s.queryFindings(ctx, w, f.Limit)
}

// findingConditions is the WHERE clause of Findings for f (its Limit
// aside).
func findingConditions(f FindingFilter) (where, error) {
	f.From, f.To = clamp(f.From), clamp(f.To)
	var w where
	// All versions of a finding share its first day's partition: pruning
	// by date is safe before FINAL.
	if !f.To.IsZero() {
		w.add("date <= toDate(?)", day(f.To))
		w.add("toUInt64(first_seen) * 1000000 + first_seen_us < ?", ceilMicro(f.To))
	}
	if !f.From.IsZero() {
		w.add("toUInt64(last_seen) * 1000000 + last_seen_us >= ?", f.From.UnixMicro())
	}
	for _, sev := range f.Severities {
		var v finding.Severity
		if err := v.UnmarshalText([]byte(sev)); err != nil {
			return where{}, err
		}
	}
	w.in("detector", f.Detectors)
	w.in("toString(severity)", f.Severities)
	w.in("endpoint", f.Endpoints)
	w.in("actor", f.Actors)
	return w, nil
}

// queryFindings runs a findings query with the WHERE clause w.
func (s *Store) queryFindings(ctx context.Context, w where, limit int) ([]finding.Finding, error) {
	if limit <= 0 {
		limit = DefaultFindingsLimit
	}
	// With FINAL, WHERE filters the collapsed rows (only PREWHERE would
	// see older versions): a finding whose severity changed is selected
	// by its latest severity only.
	q := "SELECT " + findingColumns + " FROM " + s.t("findings") + " FINAL" + w.sql() +
		" ORDER BY first_seen DESC, first_seen_us DESC, id LIMIT ?"
	rows, err := s.conn.Query(ctx, q, append(w.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse findings: %w", err)
	}
	defer rows.Close()
	var out []finding.Finding
	for rows.Next() {
		var fd finding.Finding
		if err := scanFinding(rows, &fd); err != nil {
			return nil, fmt.Errorf("clickhouse findings: %w", err)
		}
		out = append(out, fd)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse findings: %w", err)
	}
	return out, nil
}

// Finding returns the latest version of one finding and up to
// FindingEventsLimit of its events, oldest first: the events on its
// endpoint between its first and last seen (inclusive, to the
// microsecond) from its client addresses or its actor — or from anyone
// when it names neither. The error wraps ErrNotFound when there is no
// such finding.
func (s *Store) Finding(ctx context.Context, id string) (*finding.Finding, []EventSummary, error) {
	rows, err := s.conn.Query(ctx, "SELECT "+findingColumns+" FROM "+s.t("findings")+" FINAL WHERE id = ?", id)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse finding %s: %w", id, err)
	}
	var f *finding.Finding
	for rows.Next() {
		f = new(finding.Finding)
		if err := scanFinding(rows, f); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("clickhouse finding %s: %w", id, err)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse finding %s: %w", id, err)
	}
	if f == nil {
		return nil, nil, fmt.Errorf("finding %s: %w", id, ErrNotFound)
	}
	events, err := s.findingEvents(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse finding %s events: %w", id, err)
	}
	return f, events, nil
}

func (s *Store) findingEvents(ctx context.Context, f *finding.Finding) ([]EventSummary, error) {
	first, last := f.FirstSeen.UTC(), f.LastSeen.UTC()
	var w where
	w.add("endpoint = ?", f.Endpoint)
	w.add("date >= toDate(?) AND date <= toDate(?)", day(first), day(last))
	w.add("time >= toDateTime(?) AND time <= toDateTime(?)", first.Unix(), last.Unix())
	// The finding's times are whole microseconds: an event in its last
	// microsecond is in.
	w.add("toUInt64(time) * 1000000000 + time_ns >= ? AND toUInt64(time) * 1000000000 + time_ns < ?",
		first.Truncate(time.Microsecond).UnixNano(), last.Truncate(time.Microsecond).Add(time.Microsecond).UnixNano())
	var who []string
	var args []any
	for _, ip := range f.ClientIPs {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		who = append(who, "IPv6StringToNum(?)")
		args = append(args, netip.AddrFrom16(a.As16()).String())
	}
	var cond []string
	if len(who) > 0 {
		cond = append(cond, "client_ip IN ("+strings.Join(who, ", ")+")")
	}
	if f.Actor != "" {
		cond = append(cond, "actor_id = ?")
		args = append(args, f.Actor)
	}
	if len(cond) > 0 {
		w.add("("+strings.Join(cond, " OR ")+")", args...)
	}
	q := "SELECT time, time_ns, IPv6NumToString(client_ip), method, path, status, response_bytes, records, actor_id, sensitive_classes FROM " +
		s.t("events") + w.sql() + " ORDER BY time, time_ns LIMIT ?"
	rows, err := s.conn.Query(ctx, q, append(w.args, FindingEventsLimit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EventSummary
	for rows.Next() {
		var e EventSummary
		var ns uint32
		if err := rows.Scan(&e.Time, &ns, &e.ClientIP, &e.Method, &e.Path, &e.Status, &e.ResponseBytes, &e.Records, &e.ActorID, &e.SensitiveClasses); err != nil {
			return nil, err
		}
		e.Time = e.Time.UTC().Add(time.Duration(ns))
		e.ClientIP = clientIP(e.ClientIP)
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanner is what driver.Rows and driver.Row share.
type scanner interface{ Scan(dest ...any) error }

func scanFinding(r scanner, f *finding.Finding) error {
	var (
		severity, evidence, samples string
		firstUS, lastUS, detUS      uint32
		keys                        []string
		values                      []int64
	)
	if err := r.Scan(&f.ID, &f.Version, &f.Detector, &f.Kind, &severity, &f.Endpoint, &f.Actor, &f.ActorKind, &f.Subject, &f.ClientIPs,
		&f.FirstSeen.Time, &firstUS, &f.LastSeen.Time, &lastUS, &f.DetectedAt.Time, &detUS,
		&keys, &values, &evidence, &f.Summary, &samples); err != nil {
		return err
	}
	if err := f.Severity.UnmarshalText([]byte(severity)); err != nil {
		return err
	}
	f.FirstSeen.Time = withMicros(f.FirstSeen.Time, firstUS)
	f.LastSeen.Time = withMicros(f.LastSeen.Time, lastUS)
	f.DetectedAt.Time = withMicros(f.DetectedAt.Time, detUS)
	if len(keys) != len(values) {
		return fmt.Errorf("finding %s: %d counts keys, %d values", f.ID, len(keys), len(values))
	}
	f.Counts = make(map[string]int64, len(keys))
	for i, k := range keys {
		f.Counts[k] = values[i]
	}
	if err := json.Unmarshal([]byte(evidence), &f.Evidence); err != nil {
		return fmt.Errorf("finding %s evidence: %w", f.ID, err)
	}
	if err := json.Unmarshal([]byte(samples), &f.Samples); err != nil {
		return fmt.Errorf("finding %s samples: %w", f.ID, err)
	}
	return nil
}

// Inventory returns the endpoints seen in [from, to) (to the second):
// last seen at or after from and first seen before to, sorted by name.
func (s *Store) Inventory(ctx context.Context, from, to time.Time) ([]EndpointSummary, error) {
	// The aggregate table is not partitioned by time: select on the merged
	// first and last seen.
	from, to = clamp(from), clamp(to)
	var having where
	if !from.IsZero() {
		having.add("last >= toDateTime(?)", from.Unix())
	}
	if !to.IsZero() {
		having.add("first < toDateTime(?)", ceilSecond(to))
	}
	q := `SELECT endpoint, minMerge(first_seen) AS first, maxMerge(last_seen) AS last, countMerge(calls),
		groupUniqArrayMerge(methods), groupUniqArrayMerge(statuses), groupUniqArrayMerge(auth_kinds),
		groupUniqArrayArrayMerge(sensitive), maxMerge(shadow)
		FROM ` + s.t("endpoints") + " GROUP BY endpoint" + having.clause("HAVING") + " ORDER BY endpoint"
	rows, err := s.conn.Query(ctx, q, having.args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse inventory: %w", err)
	}
	defer rows.Close()
	var out []EndpointSummary
	for rows.Next() {
		var e EndpointSummary
		var shadow uint8
		if err := rows.Scan(&e.Endpoint, &e.FirstSeen, &e.LastSeen, &e.Calls, &e.Methods, &e.Statuses, &e.AuthKinds, &e.SensitiveClasses, &shadow); err != nil {
			return nil, fmt.Errorf("clickhouse inventory: %w", err)
		}
		e.FirstSeen, e.LastSeen, e.Shadow = e.FirstSeen.UTC(), e.LastSeen.UTC(), shadow != 0
		e.AuthKinds = slices.DeleteFunc(e.AuthKinds, func(k string) bool { return k == "" })
		slices.Sort(e.Methods)
		slices.Sort(e.Statuses)
		slices.Sort(e.AuthKinds)
		slices.Sort(e.SensitiveClasses)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse inventory: %w", err)
	}
	return out, nil
}

// TopActors returns the actors with the most requests on endpoint (all
// endpoints when "") in the minutes of [from, to), most requests first
// (ties by actor id); at most limit of them (DefaultTopActors when 0 or
// less). Events without an actor are counted under actor id "".
func (s *Store) TopActors(ctx context.Context, endpoint string, from, to time.Time, limit int) ([]ActorSummary, error) {
	var w where
	if endpoint != "" {
		w.add("endpoint = ?", endpoint)
	}
	w.minutes("minute", from, to)
	if limit <= 0 {
		limit = DefaultTopActors
	}
	q := "SELECT actor_id, sum(requests) AS n, sum(errors), sum(bytes), sum(records) FROM " + s.t("rollup_minute") + w.sql() +
		" GROUP BY actor_id ORDER BY n DESC, actor_id LIMIT ?"
	rows, err := s.conn.Query(ctx, q, append(w.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse top actors: %w", err)
	}
	defer rows.Close()
	var out []ActorSummary
	for rows.Next() {
		var a ActorSummary
		if err := rows.Scan(&a.ActorID, &a.Requests, &a.Errors, &a.Bytes, &a.Records); err != nil {
			return nil, fmt.Errorf("clickhouse top actors: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse top actors: %w", err)
	}
	return out, nil
}

// Rates returns the per-minute traffic the filter selects, oldest minute
// first. Minutes without traffic are left out (the panels fill them).
func (s *Store) Rates(ctx context.Context, f RateFilter) ([]RatePoint, error) {
	var w where
	if f.Endpoint != "" {
		w.add("endpoint = ?", f.Endpoint)
	}
	if f.Actor != "" {
		w.add("actor_id = ?", f.Actor)
	}
	w.minutes("minute", f.From, f.To)
	// SummingMergeTree collapses rows of a key only when parts merge: sum.
	q := "SELECT minute, sum(requests), sum(errors), sum(bytes), sum(records), sum(login_failures) FROM " + s.t("rollup_minute") + w.sql() +
		" GROUP BY minute ORDER BY minute"
	rows, err := s.conn.Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse rates: %w", err)
	}
	defer rows.Close()
	var out []RatePoint
	for rows.Next() {
		var p RatePoint
		if err := rows.Scan(&p.Minute, &p.Requests, &p.Errors, &p.Bytes, &p.Records, &p.LoginFailures); err != nil {
			return nil, fmt.Errorf("clickhouse rates: %w", err)
		}
		p.Minute = p.Minute.UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse rates: %w", err)
	}
	return out, nil
}

// LoginOutcomes returns, per minute of [from, to), the login attempts on
// endpoint (every login endpoint when ""), oldest minute first. Minutes
// without logins are left out.
func (s *Store) LoginOutcomes(ctx context.Context, endpoint string, from, to time.Time) ([]LoginPoint, error) {
	var w where
	if endpoint != "" {
		w.add("endpoint = ?", endpoint)
	}
	w.minutes("time", from, to)
	w.add("login_outcome != ''")
	q := `SELECT toStartOfMinute(time) AS minute, count(), countIf(login_outcome = 'success'), countIf(login_outcome = 'failure'),
		uniqExactIf(login_user, login_user != ''), uniqExact(client_ip)
		FROM ` + s.t("events") + w.sql() + " GROUP BY minute ORDER BY minute"
	rows, err := s.conn.Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse login outcomes: %w", err)
	}
	defer rows.Close()
	var out []LoginPoint
	for rows.Next() {
		var p LoginPoint
		if err := rows.Scan(&p.Minute, &p.Attempts, &p.Successes, &p.Failures, &p.Usernames, &p.Sources); err != nil {
			return nil, fmt.Errorf("clickhouse login outcomes: %w", err)
		}
		p.Minute = p.Minute.UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse login outcomes: %w", err)
	}
	return out, nil
}

// retained are the tables partitioned by day, which retention drops.
var retained = map[string]bool{"events": true, "findings": true, "rollup_minute": true}

// DropPartitionsBefore drops the daily partitions of table (events,
// findings or rollup_minute) that end at or before `before`: the days
// before before's UTC day. It returns how many it dropped. The inventory
// and the baselines are not partitioned by day and keep their history.
func (s *Store) DropPartitionsBefore(ctx context.Context, table string, before time.Time) (dropped int, err error) {
	if !retained[table] {
		return 0, fmt.Errorf("clickhouse retention: table %q is not partitioned by day (want events, findings or rollup_minute)", table)
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active", s.db, table)
	if err != nil {
		return 0, fmt.Errorf("clickhouse retention %s: %w", table, err)
	}
	cutoff := before.UTC().Truncate(24 * time.Hour)
	var days []time.Time
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return 0, fmt.Errorf("clickhouse retention %s: %w", table, err)
		}
		// 18.16 writes a Date key as 2026-03-02; allow it quoted.
		d, err := time.Parse(time.DateOnly, strings.Trim(p, "'"))
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("clickhouse retention %s: partition %q is not a day", table, p)
		}
		if d.Before(cutoff) {
			days = append(days, d)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("clickhouse retention %s: %w", table, err)
	}
	slices.SortFunc(days, time.Time.Compare)
	for _, d := range days {
		if err := s.conn.Exec(ctx, "ALTER TABLE "+s.t(table)+" DROP PARTITION ?", d.Format(time.DateOnly)); err != nil {
			return dropped, fmt.Errorf("clickhouse retention %s: drop partition %s: %w", table, d.Format(time.DateOnly), err)
		}
		dropped++
	}
	return dropped, nil
}

// where builds a WHERE clause from conditions and their bound arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in selects rows whose column is one of values (any row when none). One
// placeholder per value: 18.16 reads an array bound to IN (?) as one
// element.
func (w *where) in(column string, values []string) {
	if len(values) == 0 {
		return
	}
	w.conds = append(w.conds, column+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ")+")")
	for _, v := range values {
		w.args = append(w.args, v)
	}
}

// minutes selects the rows of the minutes that start in [from, to); col
// is a DateTime column of a table with a date column.
func (w *where) minutes(col string, from, to time.Time) {
	from, to = clamp(from), clamp(to)
	if !from.IsZero() {
		start := ceilMinute(from)
		w.add("date >= toDate(?)", day(start))
		w.add(col+" >= toDateTime(?)", start.Unix())
	}
	if !to.IsZero() {
		end := ceilMinute(to)
		w.add("date <= toDate(?)", day(end))
		w.add(col+" < toDateTime(?)", end.Unix())
	}
}

func (w *where) sql() string { return w.clause("WHERE") }

// clause writes the conditions after keyword (WHERE, HAVING); "" when
// there are none.
func (w *where) clause(keyword string) string {
	if len(w.conds) == 0 {
		return ""
	}
	return " " + keyword + " " + strings.Join(w.conds, " AND ")
}

// maxDateTime is the last day 18.16's Date and DateTime hold (its date
// tables end in 2105).
var maxDateTime = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)

// clamp brings a non-zero bound into the range of DateTime, so that a
// range like [0001-01-02, 9999-12-31) selects everything instead of
// wrapping around.
func clamp(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.Unix() < 1:
		return time.Unix(1, 0).UTC()
	case t.After(maxDateTime):
		return maxDateTime
	}
	return t
}

// day is t's UTC date, as the tables' date columns keep it.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func ceilMinute(t time.Time) time.Time {
	if m := t.Truncate(time.Minute); !m.Equal(t) {
		return m.Add(time.Minute)
	}
	return t
}

func ceilSecond(t time.Time) int64 {
	if t.Truncate(time.Second).Equal(t) {
		return t.Unix()
	}
	return t.Unix() + 1
}

func ceilMicro(t time.Time) int64 {
	if t.Truncate(time.Microsecond).Equal(t) {
		return t.UnixMicro()
	}
	return t.UnixMicro() + 1
}

func withMicros(t time.Time, us uint32) time.Time {
	return t.UTC().Add(time.Duration(us) * time.Microsecond)
}

// clientIP writes an address as IPv6NumToString does, IPv4-mapped ones in
// dotted form; "" for the zero address (unknown).
func clientIP(s string) string {
	if s == "::" {
		return ""
	}
	if v4, ok := strings.CutPrefix(s, "::ffff:"); ok && strings.Contains(v4, ".") {
		return v4
	}
	return s
}
