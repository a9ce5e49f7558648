package storage

// Triage: analysts mark findings acknowledged or false positive (from
// Grafana, through the data-source plugin), and the detector reads the
// false positives back as suppressions. One row per change in the triage
// table (a ReplacingMergeTree by version, ORDER BY finding_id): the latest
// change of a finding wins. Each row copies the finding's pattern
// (detector, kind, endpoint, actor, subject), so a suppression outlives the
// finding's partition in the findings table.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/finding"
)

// TriageStatus is where an analyst put a finding.
type TriageStatus string

// Triage statuses. A finding nobody triaged is open.
const (
	StatusOpen          TriageStatus = "open"
	StatusAcknowledged  TriageStatus = "acknowledged"
	StatusFalsePositive TriageStatus = "false_positive"
)

// ErrInvalidTriage is wrapped by the errors of a triage update that
// cannot be stored as it is (bad status, no finding id, oversize note).
var ErrInvalidTriage = errors.New("invalid triage")

// Valid reports whether s is one of the triage statuses.
func (s TriageStatus) Valid() bool {
	return s == StatusOpen || s == StatusAcknowledged || s == StatusFalsePositive
}

// ParseTriageStatus reads a status name, with an error that lists the
// valid ones.
func ParseTriageStatus(name string) (TriageStatus, error) {
	s := TriageStatus(name)
	if !s.Valid() {
		return "", fmt.Errorf("triage status %q: want open, acknowledged or false_positive", name)
	}
	return s, nil
}

// Bounds of what a triage change carries.
const (
	MaxTriageNote = 4000 // characters
	MaxTriageUser = 256  // characters
)

// TriageUpdate is one analyst's decision about one finding.
type TriageUpdate struct {
	FindingID string
	Status    TriageStatus
	Note      string // why; at most MaxTriageNote characters
	User      string // who; at most MaxTriageUser characters
}

// TriageState is the latest triage of a finding. The zero value but for
// FindingID and Status (open) is a finding nobody triaged.
type TriageState struct {
	FindingID string
	Status    TriageStatus
	Note      string
	User      string
	UpdatedAt time.Time // microseconds, UTC; zero when never triaged
	Version   uint64    // grows with every change of the finding
}

// Suppression is the pattern of a finding marked false positive: a later
// finding with the same detector, kind, endpoint and subject (and actor,
// when the suppression names one) is the same false positive again.
type Suppression struct {
	FindingID string
	Detector  string
	Kind      string
	Endpoint  string
	Actor     string // "" when the finding named no actor
	Subject   string // "actor …", "source 10.0.0.1", "username …", "endpoint", …
	Note      string
	User      string
	At        time.Time // when it was marked, UTC
}

// Matches reports whether f has the suppressed pattern.
func (s Suppression) Matches(f *finding.Finding) bool {
	return f.Detector == s.Detector && f.Kind == s.Kind && f.Endpoint == s.Endpoint &&
		f.Subject == s.Subject && (s.Actor == "" || f.Actor == s.Actor)
}

// TriagedFinding is a finding with its triage state.
type TriagedFinding struct {
	finding.Finding
	Triage TriageState
}

// Triage records an analyst's decision about a finding and returns the
// state stored. The finding must exist (the error wraps ErrNotFound
// otherwise): its pattern is stored with the decision.
func (s *Store) Triage(ctx context.Context, u TriageUpdate) (TriageState, error) {
	if !u.Status.Valid() {
		return TriageState{}, fmt.Errorf("%w: status %q: want open, acknowledged or false_positive", ErrInvalidTriage, u.Status)
	}
	if u.FindingID == "" {
		return TriageState{}, fmt.Errorf("%w: no finding id", ErrInvalidTriage)
	}
	if !utf8.ValidString(u.Note) || !utf8.ValidString(u.User) {
		return TriageState{}, fmt.Errorf("%w: note and user must be UTF-8", ErrInvalidTriage)
	}
	if n := utf8.RuneCountInString(u.Note); n > MaxTriageNote {
		return TriageState{}, fmt.Errorf("%w: note of %d characters, at most %d", ErrInvalidTriage, n, MaxTriageNote)
	}
	if n := utf8.RuneCountInString(u.User); n > MaxTriageUser {
		return TriageState{}, fmt.Errorf("%w: user of %d characters, at most %d", ErrInvalidTriage, n, MaxTriageUser)
	}
	var f finding.Finding
	if err := scanFinding(s.conn.QueryRow(ctx, "SELECT "+findingColumns+" FROM "+s.t("findings")+" FINAL WHERE id = ?", u.FindingID), &f); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return TriageState{}, fmt.Errorf("triage finding %s: %w", u.FindingID, ErrNotFound)
		}
		return TriageState{}, fmt.Errorf("clickhouse triage %s: %w", u.FindingID, err)
	}
	prev, err := s.Triaged(ctx, []string{u.FindingID})
	if err != nil {
		return TriageState{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	// The version orders the changes of one finding: the time of the
	// change, or one more than the last when a clock is behind.
	version := uint64(now.UnixNano())
	if p := prev[u.FindingID]; p.Version >= version {
		version = p.Version + 1
	}
	st := TriageState{FindingID: u.FindingID, Status: u.Status, Note: u.Note, User: u.User, UpdatedAt: now, Version: version}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.t("triage")+
		" (finding_id, version, status, note, user, updated_at, updated_at_us, detector, kind, endpoint, actor, subject)")
	if err != nil {
		return TriageState{}, fmt.Errorf("clickhouse triage %s: %w", u.FindingID, err)
	}
	if err := b.Append(st.FindingID, st.Version, string(st.Status), st.Note, st.User,
		now.Truncate(time.Second), uint32(now.Nanosecond()/1000),
		f.Detector, f.Kind, f.Endpoint, f.Actor, f.Subject); err != nil {
		return TriageState{}, errors.Join(fmt.Errorf("clickhouse triage %s: %w", u.FindingID, err), b.Abort())
	}
	if err := b.Send(); err != nil {
		return TriageState{}, fmt.Errorf("clickhouse triage %s: %w", u.FindingID, err)
	}
	return st, nil
}

// Triaged returns the latest triage state of each of ids; a finding
// nobody triaged has a state with status open and no version.
func (s *Store) Triaged(ctx context.Context, ids []string) (map[string]TriageState, error) {
	out := make(map[string]TriageState, len(ids))
	for _, id := range ids {
		out[id] = TriageState{FindingID: id, Status: StatusOpen}
	}
	// One placeholder per id (18.16 reads an array bound to IN (?) as one
	// element), in chunks that keep the query text small.
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		var w where
		w.in("finding_id", ids[:n])
		ids = ids[n:]
		rows, err := s.conn.Query(ctx, "SELECT finding_id, version, toString(status), note, user, updated_at, updated_at_us FROM "+
			s.t("triage")+" FINAL"+w.sql(), w.args...)
		if err != nil {
			return nil, fmt.Errorf("clickhouse triaged: %w", err)
		}
		for rows.Next() {
			var st TriageState
			var status string
			var us uint32
			if err := rows.Scan(&st.FindingID, &st.Version, &status, &st.Note, &st.User, &st.UpdatedAt, &us); err != nil {
				rows.Close()
				return nil, fmt.Errorf("clickhouse triaged: %w", err)
			}
			st.Status = TriageStatus(status)
			st.UpdatedAt = withMicros(st.UpdatedAt, us)
			out[st.FindingID] = st
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("clickhouse triaged: %w", err)
		}
	}
	return out, nil
}

// Suppressions returns the patterns of the findings whose latest triage is
// false positive, oldest first: what the detector should no longer
// report.
func (s *Store) Suppressions(ctx context.Context) ([]Suppression, error) {
	rows, err := s.conn.Query(ctx, "SELECT finding_id, detector, kind, endpoint, actor, subject, note, user, updated_at, updated_at_us FROM "+
		s.t("triage")+" FINAL WHERE status = 'false_positive' ORDER BY updated_at, updated_at_us, finding_id")
	if err != nil {
		return nil, fmt.Errorf("clickhouse suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var p Suppression
		var us uint32
		if err := rows.Scan(&p.FindingID, &p.Detector, &p.Kind, &p.Endpoint, &p.Actor, &p.Subject, &p.Note, &p.User, &p.At, &us); err != nil {
			return nil, fmt.Errorf("clickhouse suppressions: %w", err)
		}
		p.At = withMicros(p.At, us)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse suppressions: %w", err)
	}
	return out, nil
}

// FindingsByStatus is Findings restricted to the findings whose triage
// status is one of statuses (all when none; a finding nobody triaged is
// open), each with its triage state. The status is the finding's latest
// triage, selected in ClickHouse, so Limit counts only the findings that
// match.
func (s *Store) FindingsByStatus(ctx context.Context, f FindingFilter, statuses []TriageStatus) ([]TriagedFinding, error) {
	w, err := findingConditions(f)
	if err != nil {
		return nil, err
	}
	if len(statuses) > 0 {
		names := make([]string, 0, len(statuses))
		open := false
		for _, st := range statuses {
			if !st.Valid() {
				return nil, fmt.Errorf("triage status %q: want open, acknowledged or false_positive", st)
			}
			open = open || st == StatusOpen
			names = append(names, string(st))
		}
		// A finding is open when never triaged or triaged back to open:
		// with open among the statuses, exclude the findings triaged to
		// any other; without, include those triaged to one of them.
		in, notIn := "id IN", "IN"
		if open {
			in, notIn = "id NOT IN", "NOT IN"
		}
		w.add(in+" (SELECT finding_id FROM "+s.t("triage")+" FINAL WHERE toString(status) "+notIn+" ("+placeholders(len(names))+"))", anys(names)...)
	}
	fs, err := s.queryFindings(ctx, w, f.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]TriagedFinding, len(fs))
	for i := range fs {
		out[i].Finding = fs[i]
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	states, err := s.Triaged(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Triage = states[out[i].ID]
	}
	return out, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
