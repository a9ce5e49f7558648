package conformance

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// FormatTable writes one row per case — case, expectation format, checks
// passed/applicable (and not applicable), verdict, transactions observed,
// tshark's req/resp counts (context only, not ground truth), edge-case tags
// and the first failure — then the overall pass rate and a histogram of the
// not-applicable checks.
func FormatTable(w io.Writer, reports []Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "CASE\tFORMAT\tPASS/APPL\tN/A\tVERDICT\tOBS\tTSHARK\tEDGE CASES\tFIRST FAILURE")
	var casesAppl, casesPass, casesNone, checksPass, checksAppl, checksNA int
	for _, r := range reports {
		ts := "-"
		if m := r.Case.Manifest; m.TSharkReq >= 0 {
			ts = fmt.Sprintf("%d/%d", m.TSharkReq, m.TSharkResp)
		}
		edges := strings.Join(r.Case.Manifest.EdgeCases, ",")
		fmt.Fprintf(tw, "%s/%s\t%s\t%d/%d\t%d\t%s\t%d\t%s\t%s\t%s\n",
			r.Case.Source, r.Case.Name, r.Case.Format, r.Pass, r.Pass+r.Fail, r.NA,
			r.Verdict, r.Observed, ts, clip(edges, 40), clip(r.FirstFailure(), 160))
		checksPass += r.Pass
		checksAppl += r.Pass + r.Fail
		checksNA += r.NA
		switch r.Verdict {
		case CasePass:
			casesPass++
			casesAppl++
		case CaseFail:
			casesAppl++
		default:
			casesNone++
		}
	}
	tw.Flush()
	rate := 0.0
	if casesAppl > 0 {
		rate = 100 * float64(casesPass) / float64(casesAppl)
	}
	fmt.Fprintf(w, "\nconformance: %d/%d cases with applicable checks pass (%.1f%%); %d cases have no applicable checks; checks: %d/%d pass, %d not applicable\n",
		casesPass, casesAppl, rate, casesNone, checksPass, checksAppl, checksNA)
	fmt.Fprintln(w, "\nnot applicable, by reason:")
	FormatHistogram(w, NotApplicableHistogram(reports))
}

// NotApplicableHistogram counts the not-applicable outcomes of reports by
// reason: the static category for expectations that can never be
// evaluated, "<kind>: undecidable at evaluation" for the others.
func NotApplicableHistogram(reports []Report) map[string]int {
	h := map[string]int{}
	for _, r := range reports {
		for _, o := range r.Outcomes {
			if o.Outcome.Status != NotApplicable {
				continue
			}
			reason := NAReason(o.Check)
			if reason == "" {
				reason = o.Check.Kind() + ": undecidable at evaluation"
			}
			h[reason]++
		}
	}
	return h
}

// FormatHistogram prints a histogram, largest first.
func FormatHistogram(w io.Writer, h map[string]int) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if h[keys[i]] != h[keys[j]] {
			return h[keys[i]] > h[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		bar := strings.Repeat("#", min(h[k], 60))
		fmt.Fprintf(w, "  %4d  %-55s %s\n", h[k], clip(k, 55), bar)
	}
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "\t", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
