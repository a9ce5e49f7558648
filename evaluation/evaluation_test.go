package evaluation

import (
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/finding"
)

func ft(t time.Time) finding.Time { return finding.Time{Time: t} }

func TestEvaluate(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	truth, err := ReadTruth(strings.NewReader(`{"scenario":"attacks",
		"episodes":[
		 {"id":"enum","detector":"enumeration","endpoint":"GET h /u/{id}","client_ips":["203.0.113.5"],"start":"2026-03-02T09:05:00Z","end":"2026-03-02T09:07:00Z"},
		 {"id":"stuff","detector":"credential_stuffing","endpoint":"POST h /login","client_ips":["198.51.100.7"],"start":"2026-03-02T09:10:00Z","end":"2026-03-02T09:11:00Z"}],
		"heavy_users":[{"kind":"service_account","client_ips":["10.9.9.9"],"start":"2026-03-02T09:00:00Z","end":"2026-03-02T09:15:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	fs := []finding.Finding{
		{ID: "a", Detector: "enumeration", Endpoint: "GET h /u/{id}", ClientIPs: []string{"203.0.113.5"},
			FirstSeen: ft(t0.Add(5 * time.Minute)), LastSeen: ft(t0.Add(7 * time.Minute)), DetectedAt: ft(t0.Add(5*time.Minute + 20*time.Second))},
		// Right attacker, wrong detector: a false positive.
		{ID: "b", Detector: "data_exposure", Endpoint: "GET h /u/{id}", ClientIPs: []string{"203.0.113.5"},
			FirstSeen: ft(t0.Add(6 * time.Minute)), LastSeen: ft(t0.Add(6 * time.Minute))},
		// The sync job: a false positive with a known cause.
		{ID: "c", Detector: "enumeration", Endpoint: "GET h /u/{id}", ClientIPs: []string{"10.9.9.9"},
			FirstSeen: ft(t0.Add(time.Minute)), LastSeen: ft(t0.Add(2 * time.Minute))},
	}
	r := Evaluate(truth, fs)
	if len(r.Episodes) != 2 || !r.Episodes[0].Found || r.Episodes[1].Found || r.Episodes[0].TimeToDetect != 20*time.Second {
		t.Fatalf("episodes %+v", r.Episodes)
	}
	if r.Recall() != 0.5 || r.Precision() != 1.0/3 || len(r.FalsePositives) != 2 || r.FalsePositives[1].Cause != "service_account" {
		t.Errorf("recall %v precision %v false positives %+v", r.Recall(), r.Precision(), r.FalsePositives)
	}
	var out strings.Builder
	r.Write(&out)
	if !strings.Contains(out.String(), "recall 0.50 (2 episodes), precision 0.33 (3 findings, 2 false positives)") {
		t.Errorf("report:\n%s", out.String())
	}
}
