// Package conformance loads the expectations that other passive-traffic tools'
// test suites pin down for real captures (Suricata, Arkime, pcap2har,
// tcpdump) into one model and evaluates them against the HTTP transactions
// apiwatch observed in the same captures.
//
// Every expectation becomes a Check. A check that cannot be evaluated
// faithfully against apiwatch's observations (DNS events, TLS, flow
// counters, rules with pcre or transforms, HTTP/2, ...) is kept, but reports
// NotApplicable with the reason: it never passes by guess.
package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Status is the outcome of one check.
type Status int

const (
	NotApplicable Status = iota
	Pass
	Fail
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "FAIL"
	}
	return "n/a"
}

// Outcome is the result of evaluating one check.
type Outcome struct {
	Status Status
	Detail string
}

func pass(format string, a ...any) Outcome { return Outcome{Pass, fmt.Sprintf(format, a...)} }
func fail(format string, a ...any) Outcome { return Outcome{Fail, fmt.Sprintf(format, a...)} }
func notApplicable(format string, a ...any) Outcome {
	return Outcome{NotApplicable, fmt.Sprintf(format, a...)}
}

// Check is one upstream expectation.
type Check interface {
	// Kind names the kind of expectation, e.g. "suricata/http",
	// "arkime/session", "har/entry"; used for grouping and histograms.
	Kind() string
	// Describe says in one line what is expected.
	Describe() string
	// Eval compares the expectation with what apiwatch observed.
	Eval(obs []Transaction) Outcome
}

// naCheck is an expectation that cannot be evaluated against apiwatch's
// observations at all. Reason is a short category (for histograms); Why
// explains.
type naCheck struct {
	kind, desc, Reason, Why string
}

func (c naCheck) Kind() string     { return c.kind }
func (c naCheck) Describe() string { return c.desc }
func (c naCheck) Eval([]Transaction) Outcome {
	return notApplicable("%s", c.Why)
}

// NAReason returns the static not-applicable category of a check that can
// never be evaluated, "" for checks that are evaluated.
func NAReason(c Check) string {
	if n, ok := c.(naCheck); ok {
		return n.kind + ": " + n.Reason
	}
	return ""
}

// Manifest is a case's row in MANIFEST.tsv: context only (tshark's counts
// are a reference, never ground truth, and never become checks).
type Manifest struct {
	Source, Case, Pcap, LinkType, TShark string
	Bytes, Packets                       int
	EdgeCases                            []string
	Expected                             string
	// TSharkReq, TSharkResp are the req=/resp= counts from the tshark column
	// (-1 when the column does not list them).
	TSharkReq, TSharkResp int
}

// Case is one capture with the checks derived from its upstream expectations.
type Case struct {
	// Source is the top-level folder under the pcaps root ("suricata-verify"
	// or "other"), so Source+"/"+Name is the case's folder.
	Source string
	// Format is the kind of expectation file: "suricata", "arkime", "har"
	// or "tcpdump".
	Format string
	Name   string
	Dir    string
	Pcap   string // input.pcap, or input.pcap.gz when only that exists
	Checks []Check
	Notes  string
	// Settings holds the configuration a case's tool ran with (suricata's
	// `--set key=value`), so the same knobs can be set on apiwatch.
	Settings map[string]string
	Manifest Manifest
}

// CheckOutcome pairs a check with its outcome.
type CheckOutcome struct {
	Check   Check
	Outcome Outcome
}

// Verdict is a case's overall result.
type Verdict int

const (
	// NoApplicableChecks: nothing in the upstream expectations could be
	// compared with apiwatch's observations. Not a pass.
	NoApplicableChecks Verdict = iota
	CasePass
	CaseFail
)

func (v Verdict) String() string {
	switch v {
	case CasePass:
		return "PASS"
	case CaseFail:
		return "FAIL"
	}
	return "no-applicable-checks"
}

// Report is a case's evaluation.
type Report struct {
	Case         Case
	Outcomes     []CheckOutcome
	Observed     int // number of transactions apiwatch reported
	Pass, Fail   int // checks passed / failed
	NA           int // checks not applicable
	Verdict      Verdict
	FirstFailing *CheckOutcome
}

// Applicable reports whether at least one check of the case was evaluated.
func (r Report) Applicable() bool { return r.Verdict != NoApplicableChecks }

// Passed reports whether every applicable check passed (and there was one).
func (r Report) Passed() bool { return r.Verdict == CasePass }

// FirstFailure describes the first failed check, "" if none failed.
func (r Report) FirstFailure() string {
	if r.FirstFailing == nil {
		return ""
	}
	return r.FirstFailing.Check.Describe() + ": " + r.FirstFailing.Outcome.Detail
}

// Evaluate evaluates every check of c against the transactions apiwatch
// observed in c.Pcap. The case passes when every applicable check passes;
// a case whose checks are all not applicable has its own verdict.
func Evaluate(c Case, obs []Transaction) Report {
	r := Report{Case: c, Observed: len(obs)}
	for _, ch := range c.Checks {
		o := ch.Eval(obs)
		r.Outcomes = append(r.Outcomes, CheckOutcome{ch, o})
		switch o.Status {
		case Pass:
			r.Pass++
		case Fail:
			r.Fail++
		default:
			r.NA++
		}
	}
	for i := range r.Outcomes {
		if r.Outcomes[i].Outcome.Status == Fail {
			r.FirstFailing = &r.Outcomes[i]
			break
		}
	}
	switch {
	case r.Fail > 0:
		r.Verdict = CaseFail
	case r.Pass > 0:
		r.Verdict = CasePass
	}
	return r
}

// LoadCases loads every case under root (the shared pcaps folder): each
// suricata-verify/<case> and each other/<case> that has an input.pcap (or
// input.pcap.gz) and an HTTP expectation file (Arkime, HAR, tcpdump output).
// gopacket cases (no HTTP expectations) and MANIFEST rows without a folder
// (zeek) are skipped. Cases are sorted by name.
func LoadCases(root string) ([]Case, error) {
	manifest, err := readManifest(filepath.Join(root, "MANIFEST.tsv"))
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, source := range []string{"suricata-verify", "other"} {
		entries, err := os.ReadDir(filepath.Join(root, source))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(root, source, e.Name())
			pcap := findPcap(dir)
			if pcap == "" {
				continue
			}
			c := Case{Source: source, Name: e.Name(), Dir: dir, Pcap: pcap,
				Manifest: manifest[source+"/"+e.Name()]}
			var err error
			switch {
			case source == "suricata-verify":
				c.Format = "suricata"
				err = loadSuricata(&c)
			case exists(filepath.Join(dir, "expected_http_summary.json")):
				c.Format = "arkime"
				err = loadArkime(&c)
			case exists(filepath.Join(dir, "expected.har.json")):
				c.Format = "har"
				err = loadHAR(&c)
			case len(globTcpdump(dir)) > 0:
				c.Format = "tcpdump"
				err = loadTcpdump(&c)
			default:
				continue // no HTTP expectations (gopacket)
			}
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", source, e.Name(), err)
			}
			cases = append(cases, c)
		}
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

func findPcap(dir string) string {
	for _, n := range []string{"input.pcap", "input.pcap.gz"} {
		if p := filepath.Join(dir, n); exists(p) {
			return p
		}
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func globTcpdump(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "expected.tcpdump-*.out"))
	return m
}

// readManifest indexes MANIFEST.tsv by "source/case".
func readManifest(path string) (map[string]Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]Manifest{}
	for i, line := range strings.Split(string(b), "\n") {
		if i == 0 || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		for len(f) < 9 {
			f = append(f, "")
		}
		m := Manifest{Source: f[0], Case: f[1], Pcap: f[2], LinkType: f[4], TShark: f[6],
			Expected: f[8], TSharkReq: -1, TSharkResp: -1}
		fmt.Sscan(f[3], &m.Bytes)
		fmt.Sscan(f[5], &m.Packets)
		for _, kv := range strings.Fields(m.TShark) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "req":
				fmt.Sscan(v, &m.TSharkReq)
			case "resp":
				fmt.Sscan(v, &m.TSharkResp)
			}
		}
		if m.TShark != "" {
			if m.TSharkReq < 0 {
				m.TSharkReq = 0
			}
			if m.TSharkResp < 0 {
				m.TSharkResp = 0
			}
		}
		tags := strings.Trim(f[7], "[]")
		for _, t := range strings.Split(tags, ",") {
			if t = strings.Trim(strings.TrimSpace(t), "'\""); t != "" {
				m.EdgeCases = append(m.EdgeCases, t)
			}
		}
		out[m.Source+"/"+m.Case] = m
	}
	return out, nil
}
