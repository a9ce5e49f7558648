package conformance

import (
	"sort"
	"strings"
	"testing"
)

func TestLoadCasesCounts(t *testing.T) {
	cases := loadAll(t)
	by := map[string]int{}
	checks := 0
	for _, c := range cases {
		by[c.Format]++
		checks += len(c.Checks)
		if len(c.Checks) == 0 {
			t.Errorf("%s: no checks", c.Name)
		}
		if c.Pcap == "" {
			t.Errorf("%s: no pcap", c.Name)
		}
		if c.Manifest.Case != c.Name {
			t.Errorf("%s: no MANIFEST row", c.Name)
		}
	}
	want := map[string]int{"suricata": 81, "arkime": 28, "har": 4, "tcpdump": 3}
	for f, n := range want {
		if by[f] != n {
			t.Errorf("%d %s cases, want %d", by[f], f, n)
		}
	}
	if len(cases) != 116 {
		t.Errorf("%d cases, want 116", len(cases))
	}
	if !sort.SliceIsSorted(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name }) {
		t.Error("cases are not sorted by name")
	}
	t.Logf("%d cases, %d checks", len(cases), checks)

	m := caseNamed(t, "bug-130").Manifest
	if m.TSharkReq != 1 || m.TSharkResp != 1 || m.LinkType != "ether" || len(m.EdgeCases) != 1 {
		t.Errorf("bug-130 manifest row: %+v", m)
	}
	if n := caseNamed(t, "http2-upgrade").Notes; !strings.Contains(n, "stream.midstream=true") {
		t.Errorf("http2-upgrade notes %q lack the midstream arg", n)
	}
}

// fixed is a check with a fixed outcome.
type fixed Status

func (f fixed) Kind() string                   { return "test" }
func (f fixed) Describe() string               { return "fixed " + Status(f).String() }
func (f fixed) Eval(obs []Transaction) Outcome { return Outcome{Status(f), "because"} }

func TestEvaluateVerdicts(t *testing.T) {
	na := naCheck{"x/y", "never", "reason", "why"}
	for _, tc := range []struct {
		checks []Check
		want   Verdict
	}{
		{[]Check{na}, NoApplicableChecks},
		{nil, NoApplicableChecks},
		{[]Check{na, fixed(Pass)}, CasePass},
		{[]Check{fixed(Pass), fixed(Fail), na, fixed(Fail)}, CaseFail},
	} {
		r := Evaluate(Case{Name: "c", Checks: tc.checks}, nil)
		if r.Verdict != tc.want {
			t.Errorf("%v: verdict %v, want %v", tc.checks, r.Verdict, tc.want)
		}
		if r.Applicable() != (tc.want != NoApplicableChecks) || r.Passed() != (tc.want == CasePass) {
			t.Errorf("%v: Applicable/Passed disagree with %v", tc.checks, r.Verdict)
		}
		if (tc.want == CaseFail) != (r.FirstFailure() != "") {
			t.Errorf("%v: first failure %q", tc.checks, r.FirstFailure())
		}
	}
	var b strings.Builder
	FormatTable(&b, []Report{
		Evaluate(Case{Source: "s", Name: "a", Checks: []Check{fixed(Pass)}}, nil),
		Evaluate(Case{Source: "s", Name: "b", Checks: []Check{fixed(Fail)}}, nil),
		Evaluate(Case{Source: "s", Name: "c", Checks: []Check{na}}, nil),
	})
	out := b.String()
	for _, s := range []string{"s/a", "s/b", "fixed FAIL: because", "1/2 cases with applicable checks pass (50.0%)",
		"1 cases have no applicable checks", "x/y: reason"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func TestTxIndexes(t *testing.T) {
	obs := []Transaction{
		{SrcIP: "10.0.0.1", SrcPort: 1000, DstIP: "10.0.0.2", DstPort: 80},
		{SrcIP: "10.0.0.2", SrcPort: 80, DstIP: "10.0.0.1", DstPort: 1000}, // same conn, reversed
		{SrcIP: "10.0.0.1", SrcPort: 1001, DstIP: "10.0.0.2", DstPort: 80},
	}
	got := txIndexes(obs)
	if got[0] != 0 || got[1] != 1 || got[2] != 0 {
		t.Errorf("tx indexes %v", got)
	}
}

func TestTxIndexesRestartAfterTunnel(t *testing.T) {
	c := Transaction{SrcIP: "127.0.0.1", SrcPort: 60464, DstIP: "127.0.0.1", DstPort: 8002, HasRequest: true, HasResponse: true,
		Method: "CONNECT", Target: "abc:443", Status: 200}
	g := c
	g.Method, g.Target, g.Start = "GET", "/", c.Start.Add(1)
	if got := txIndexes([]Transaction{c, g}); got[0] != 0 || got[1] != 0 {
		t.Errorf("tx ids after CONNECT: %v, want [0 0]", got)
	}
	c.Status = 407
	if got := txIndexes([]Transaction{c, g}); got[1] != 1 {
		t.Errorf("tx ids after a refused CONNECT: %v, want [0 1]", got)
	}
}
