package finding

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSON(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 4, 16, 0, time.UTC)
	f := Finding{ID: ID(Enumeration, "sequential_ids", "GET h /u/{id}", "actor a", at), Version: 3, Detector: Enumeration,
		Severity: Critical, FirstSeen: Time{at}, LastSeen: Time{at.Add(1500 * time.Microsecond)}, DetectedAt: Time{at.In(time.FixedZone("x", 3600))}}
	b, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"first_seen":"2026-03-02T09:04:16.000000Z"`, `"last_seen":"2026-03-02T09:04:16.001500Z"`,
		`"detected_at":"2026-03-02T09:04:16.000000Z"`, `"severity":"critical"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in %s", want, b)
		}
	}
	var g Finding
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.ID != f.ID || g.Severity != Critical || !g.LastSeen.Equal(f.LastSeen.Time) {
		t.Errorf("round trip: %+v", g)
	}
	if err := json.Unmarshal([]byte(`{"severity":"urgent"}`), &g); err == nil || !strings.Contains(err.Error(), "low, medium, high or critical") {
		t.Errorf("unknown severity: %v", err)
	}
	// The id names the incident: same inputs, same id; another start, another.
	if a, b, later := ID(Enumeration, "k", "e", "s", at), ID(Enumeration, "k", "e", "s", at), ID(Enumeration, "k", "e", "s", at.Add(time.Hour)); a != b || a == later {
		t.Error("ID is not a function of its inputs")
	}
}
