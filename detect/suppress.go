package detect

import "github.com/apiwatch/apiwatch/finding"

// Suppression mutes a pattern an analyst marked as a false positive: the
// incidents of a detector, kind, endpoint and subject (an actor, a source,
// a username). An empty field matches anything, so a suppression can be
// as narrow as one finding's pattern or as wide as a kind on an endpoint.
type Suppression struct {
	Detector, Kind, Endpoint, Subject string
}

// Of returns the suppression of exactly f's pattern.
func Of(f *finding.Finding) Suppression {
	return Suppression{Detector: f.Detector, Kind: f.Kind, Endpoint: f.Endpoint, Subject: f.Subject}
}

func (s *Suppression) matches(detector, kind, endpoint, subject string) bool {
	return (s.Detector == "" || s.Detector == detector) && (s.Kind == "" || s.Kind == kind) &&
		(s.Endpoint == "" || s.Endpoint == endpoint) && (s.Subject == "" || s.Subject == subject)
}

// Suppress replaces the suppressions: from now on, triggers matching one
// open or update no finding (counted in Stats.Muted). Incidents already
// reported stay as they are.
func (d *Engine) Suppress(s []Suppression) {
	d.suppressions = append(d.suppressions[:0], s...)
}

// muted reports whether a trigger is suppressed. Few suppressions are
// expected (analysts' verdicts), so a scan is cheaper than an index.
func (d *Engine) muted(detector, kind, endpoint, subject string) bool {
	for i := range d.suppressions {
		if d.suppressions[i].matches(detector, kind, endpoint, subject) {
			return true
		}
	}
	return false
}
