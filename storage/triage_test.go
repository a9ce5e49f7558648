package storage_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

func triageFinding(id, detector, kind, endpoint, actor, subject string, first time.Time) finding.Finding {
	return finding.Finding{
		ID: id, Version: 1, Detector: detector, Kind: kind, Severity: finding.High, Endpoint: endpoint,
		Actor: actor, Subject: subject, ClientIPs: []string{"10.0.0.1"},
		FirstSeen: finding.Time{Time: first}, LastSeen: finding.Time{Time: first.Add(time.Minute)}, DetectedAt: finding.Time{Time: first},
		Counts: map[string]int64{"events": 3}, Evidence: []finding.Evidence{{Metric: "m", Observed: 1}}, Summary: "s",
		Samples: []finding.EventRef{},
	}
}

// TestTriage stores decisions about findings and reads them back: the
// latest decision wins, the findings select by status, and false
// positives come back as suppressions until reopened.
func TestTriage(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	fs := []finding.Finding{
		triageFinding("f-enum", finding.Enumeration, "sequential_ids", "GET h /users/{id}", "actor-1", "actor actor-1", t0),
		triageFinding("f-stuff", finding.CredentialStuffing, "many_usernames", "POST h /login", "", "source 10.0.0.9", t0.Add(time.Minute)),
		triageFinding("f-scrape", finding.DataExposure, "scraping", "GET h /users", "actor-2", "actor actor-2", t0.Add(2*time.Minute)),
	}
	if err := s.WriteFindings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	statusIDs := func(statuses ...storage.TriageStatus) []string {
		t.Helper()
		got, err := s.FindingsByStatus(ctx, storage.FindingFilter{}, statuses)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range got {
			ids = append(ids, f.ID+"="+string(f.Triage.Status))
		}
		slices.Sort(ids)
		return ids
	}
	if got, want := statusIDs(), []string{"f-enum=open", "f-scrape=open", "f-stuff=open"}; !slices.Equal(got, want) {
		t.Fatalf("untriaged: %v, want %v", got, want)
	}

	if _, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "nope", Status: storage.StatusAcknowledged}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown finding: %v, want ErrNotFound", err)
	}
	if _, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "f-enum", Status: "closed"}); err == nil || !strings.Contains(err.Error(), "false_positive") {
		t.Errorf("bad status: %v", err)
	}
	if _, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "f-enum", Status: storage.StatusOpen, Note: strings.Repeat("x", storage.MaxTriageNote+1)}); err == nil {
		t.Error("an oversize note was stored")
	}

	st, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "f-enum", Status: storage.StatusAcknowledged, Note: "looking", User: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Version == 0 || st.UpdatedAt.IsZero() || st.User != "ana" {
		t.Errorf("state %+v", st)
	}
	// Two changes in a row: the later wins.
	if _, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "f-stuff", Status: storage.StatusAcknowledged, User: "ana"}); err != nil {
		t.Fatal(err)
	}
	fp, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "f-stuff", Status: storage.StatusFalsePositive, Note: "pen test", User: "bo"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statusIDs(storage.StatusOpen), []string{"f-scrape=open"}; !slices.Equal(got, want) {
		t.Errorf("open: %v, want %v", got, want)
	}
	if got, want := statusIDs(storage.StatusAcknowledged), []string{"f-enum=acknowledged"}; !slices.Equal(got, want) {
		t.Errorf("acknowledged: %v, want %v", got, want)
	}
	if got, want := statusIDs(storage.StatusFalsePositive), []string{"f-stuff=false_positive"}; !slices.Equal(got, want) {
		t.Errorf("false positive: %v, want %v", got, want)
	}
	if got, want := statusIDs(storage.StatusOpen, storage.StatusAcknowledged), []string{"f-enum=acknowledged", "f-scrape=open"}; !slices.Equal(got, want) {
		t.Errorf("open or acknowledged: %v, want %v", got, want)
	}
	// The other filters still apply.
	got, err := s.FindingsByStatus(ctx, storage.FindingFilter{Detectors: []string{finding.Enumeration}, Limit: 1}, []storage.TriageStatus{storage.StatusAcknowledged})
	if err != nil || len(got) != 1 || got[0].ID != "f-enum" || got[0].Triage.Note != "looking" {
		t.Errorf("acknowledged enumeration: %+v, %v", got, err)
	}
	if _, err := s.FindingsByStatus(ctx, storage.FindingFilter{}, []storage.TriageStatus{"closed"}); err == nil {
		t.Error("an unknown status selected findings")
	}

	states, err := s.Triaged(ctx, []string{"f-enum", "f-stuff", "f-scrape"})
	if err != nil {
		t.Fatal(err)
	}
	if states["f-stuff"].Status != storage.StatusFalsePositive || states["f-stuff"].Version != fp.Version || states["f-stuff"].Note != "pen test" ||
		!states["f-stuff"].UpdatedAt.Equal(fp.UpdatedAt) || states["f-scrape"].Status != storage.StatusOpen || states["f-scrape"].Version != 0 {
		t.Errorf("triaged: %+v", states)
	}

	sup, err := s.Suppressions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Suppression{FindingID: "f-stuff", Detector: finding.CredentialStuffing, Kind: "many_usernames", Endpoint: "POST h /login",
		Subject: "source 10.0.0.9", Note: "pen test", User: "bo", At: fp.UpdatedAt}
	if len(sup) != 1 || sup[0] != want {
		t.Fatalf("suppressions %+v, want %+v", sup, want)
	}
	again := fs[1]
	again.ID, again.FirstSeen.Time = "f-stuff-2", t0.Add(time.Hour)
	if !sup[0].Matches(&again) {
		t.Error("the same pattern later does not match its suppression")
	}
	other := again
	other.Subject = "source 10.0.0.10"
	if sup[0].Matches(&other) {
		t.Error("another source matches the suppression")
	}

	// Reopened: no longer suppressed.
	if _, err := s.Triage(ctx, storage.TriageUpdate{FindingID: "f-stuff", Status: storage.StatusOpen, User: "bo"}); err != nil {
		t.Fatal(err)
	}
	if sup, err := s.Suppressions(ctx); err != nil || len(sup) != 0 {
		t.Errorf("suppressions after reopening: %+v, %v", sup, err)
	}
	if got, want := statusIDs(storage.StatusOpen), []string{"f-scrape=open", "f-stuff=open"}; !slices.Equal(got, want) {
		t.Errorf("open after reopening: %v, want %v", got, want)
	}
}
