package alert

import (
	"slices"

	"github.com/apiwatch/apiwatch/finding"
)

// route is a Route with its sinks resolved to indexes.
type route struct {
	detectors   []string
	minSeverity finding.Severity
	endpoints   []string
	sinks       []int
}

func (r *route) match(f *finding.Finding) bool {
	if f.Severity < r.minSeverity {
		return false
	}
	if len(r.detectors) > 0 && !slices.Contains(r.detectors, f.Detector) {
		return false
	}
	if len(r.endpoints) == 0 {
		return true
	}
	for _, p := range r.endpoints {
		if glob(p, f.Endpoint) {
			return true
		}
	}
	return false
}

// glob reports whether s matches pattern, where '*' matches any run of
// bytes (none included) and every other byte only itself.
func glob(pattern, s string) bool {
	// The classic two-pointer match: on a mismatch after a star, let the
	// star swallow one more byte.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
