package detect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
)

// actorQuantile is the percentile of actors' windows that per-actor
// thresholds multiply: what a typical busy actor does. A higher one would
// let a few legitimately heavy actors (sync jobs, which their own learned
// history covers) set the bar for everyone.
const actorQuantile = 0.9

// enumeration: one actor touching far more distinct objects on one
// endpoint in a window than actors normally do there (and than this actor
// did while the endpoint was learning: a sync job is not an attack).
func (d *Engine) enumeration(o *baseline.Observation, t *thresholds) {
	a := o.Actor
	if a == nil || len(o.Event.ObjectIds) == 0 {
		return
	}
	objects := float64(a.Objects.Len())
	var base float64
	if o.Learned {
		base = baseline.Quantile(o.Endpoint.ActorObjects, actorQuantile)
	}
	thr := threshold(t.Enumeration.MinObjects, t.Enumeration.Multiple, base)
	own := float64(a.LearnedMaxObjects)
	thr = max(thr, t.Enumeration.Multiple*own)
	if objects < thr {
		return
	}
	share := func(n, of uint32) float64 {
		if of == 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	seq, denied, foreign := share(a.Sequential, a.Numeric), share(a.Denied, a.Events), share(a.Foreign, a.Events)
	if !o.Learned && denied < t.Enumeration.DeniedShare && foreign < t.Enumeration.ForeignShare {
		// While the endpoint learns, nothing says how busy actors are
		// there: a sync job paging through everything looks like this.
		// Only an actor mostly denied, or served others' objects, is
		// reported before the baseline exists.
		return
	}
	a.Flagged = true
	ev := []finding.Evidence{evidence("distinct_objects_per_window", objects, base, t.Enumeration.MinObjects, thr,
		fmt.Sprintf("p90 of actors' windows ×%g; this actor's own learned maximum %g", t.Enumeration.Multiple, own))}
	kind, sev := "many_objects", finding.Medium
	var signals []string
	if seq >= t.Enumeration.SequentialShare {
		kind, sev = "sequential_ids", sev+1
		signals = append(signals, fmt.Sprintf("%.0f%% of ids in sequence", 100*seq))
		ev = append(ev, evidence("sequential_share", seq, 0, t.Enumeration.SequentialShare, t.Enumeration.SequentialShare, ""))
	}
	if foreign >= t.Enumeration.ForeignShare {
		if kind == "many_objects" {
			kind = "foreign_objects"
		}
		sev++
		signals = append(signals, fmt.Sprintf("%.0f%% of objects first served to other actors", 100*foreign))
		ev = append(ev, evidence("foreign_share", foreign, 0, t.Enumeration.ForeignShare, t.Enumeration.ForeignShare, ""))
	}
	if denied >= t.Enumeration.DeniedShare {
		sev++
		signals = append(signals, fmt.Sprintf("%.0f%% denied (401/403/404)", 100*denied))
		ev = append(ev, evidence("denied_share", denied, 0, t.Enumeration.DeniedShare, t.Enumeration.DeniedShare, ""))
	}
	summary := fmt.Sprintf("One %s actor touched %.0f distinct objects on %s within %s (threshold %.0f)",
		actorKindWord(o.Event.Actor), objects, o.Endpoint.Name, d.store.Window(), thr)
	if len(signals) > 0 {
		summary += "; " + strings.Join(signals, ", ")
	}
	d.fire(o, &trigger{
		detector: finding.Enumeration, kind: kind, severity: min(sev, finding.Critical),
		subject: "actor " + a.ID, actor: o.Event.Actor, clientIPs: a.ClientIPs, evidence: ev,
		counts: map[string]int64{"distinct_objects": int64(objects), "denied": int64(a.Denied),
			"sequential": int64(a.Sequential), "foreign": int64(a.Foreign)},
		summary: summary + ".",
	})
}

// exposure: a response far above the endpoint's size or record baseline;
// sensitive classes or sensitive-looking fields the endpoint never returned
// before; an actor pulling far more than actors do (scraping); sensitive
// data served to callers without credentials.
func (d *Engine) exposure(o *baseline.Observation, t *thresholds) {
	r := o.Event.Response
	if r == nil || r.Status/100 != 2 {
		return
	}
	ep := o.Endpoint
	x := &t.Exposure
	var baseBytes, baseRecords float64
	if o.Learned {
		baseBytes, baseRecords = baseline.Quantile(ep.Bytes, 0.99), baseline.Quantile(ep.Records, 0.99)
	}
	if thr := threshold(x.MinBytes, x.ResponseMultiple, baseBytes); float64(r.BodyBytes) >= thr {
		d.fire(o, &trigger{detector: finding.DataExposure, kind: "oversized_response", severity: finding.Medium,
			subject: "actor " + actorID(o.Event.Actor), actor: o.Event.Actor,
			evidence: []finding.Evidence{evidence("response_bytes", float64(r.BodyBytes), baseBytes, x.MinBytes, thr, "p99 of the endpoint's responses")},
			counts:   map[string]int64{"bytes": r.BodyBytes},
			summary:  fmt.Sprintf("A %d-byte response from %s, far above its usual size (threshold %.0f).", r.BodyBytes, ep.Name, thr)})
	}
	if r.Shape != nil && r.BodyAnalyzed {
		if thr := threshold(x.MinRecords, x.ResponseMultiple, baseRecords); float64(r.Shape.Records) >= thr {
			d.fire(o, &trigger{detector: finding.DataExposure, kind: "oversized_response", severity: finding.Medium,
				subject: "actor " + actorID(o.Event.Actor), actor: o.Event.Actor,
				evidence: []finding.Evidence{evidence("response_records", float64(r.Shape.Records), baseRecords, x.MinRecords, thr, "p99 of the endpoint's responses")},
				counts:   map[string]int64{"records": r.Shape.Records},
				summary:  fmt.Sprintf("A response of %d records from %s, far above its usual count (threshold %.0f).", r.Shape.Records, ep.Name, thr)})
		}
	}
	// "Never returned before" means something once the endpoint's bodies
	// were seen enough, learned or not.
	known := float64(ep.Analyzed) > x.MinAnalyzed
	if known && o.NewClasses != 0 {
		names, sev := classNames(o.NewClasses)
		d.fire(o, &trigger{detector: finding.DataExposure, kind: "new_sensitive_class", severity: sev,
			subject: "classes " + strings.Join(names, ","), actor: o.Event.Actor,
			evidence: []finding.Evidence{evidence("responses_with_class_before", 0, float64(ep.Analyzed), 0, 0,
				fmt.Sprintf("%s never returned by this endpoint in %d analysed responses", strings.Join(names, ", "), ep.Analyzed-1))},
			summary: fmt.Sprintf("%s started returning %s, which it never returned before.", ep.Name, strings.Join(names, ", "))})
	}
	if known && len(o.NewFields) > 0 {
		if fields := sensitiveFields(o.NewFields); len(fields) > 0 {
			d.fire(o, &trigger{detector: finding.DataExposure, kind: "new_sensitive_field", severity: finding.High,
				subject: "fields " + strings.Join(fields, ","), actor: o.Event.Actor,
				evidence: []finding.Evidence{evidence("responses_with_field_before", 0, float64(ep.Analyzed), 0, 0,
					"new field paths: "+strings.Join(fields, ", "))},
				summary: fmt.Sprintf("%s started returning %s, fields it never returned before.", ep.Name, strings.Join(fields, ", "))})
		}
	}
	if a := o.Actor; a != nil {
		var baseR, baseB float64
		if o.Learned {
			baseR, baseB = baseline.Quantile(ep.ActorRecords, actorQuantile), baseline.Quantile(ep.ActorBytes, actorQuantile)
		}
		thrR := threshold(x.MinActorRecords, x.ActorMultiple, baseR)
		thrB := threshold(x.MinActorBytes, x.ActorMultiple, baseB)
		if float64(a.Records) >= thrR || float64(a.Bytes) >= thrB {
			a.Flagged = true
			d.fire(o, &trigger{detector: finding.DataExposure, kind: "scraping", severity: finding.High,
				subject: "actor " + a.ID, actor: o.Event.Actor, clientIPs: a.ClientIPs,
				evidence: []finding.Evidence{
					evidence("actor_records_per_window", float64(a.Records), baseR, x.MinActorRecords, thrR, "p90 of actors' windows"),
					evidence("actor_bytes_per_window", float64(a.Bytes), baseB, x.MinActorBytes, thrB, "p90 of actors' windows")},
				counts:  map[string]int64{"records": a.Records, "bytes": a.Bytes},
				summary: fmt.Sprintf("One actor pulled %d records (%d bytes) from %s within %s.", a.Records, a.Bytes, ep.Name, d.store.Window())})
		}
	}
	if o.Unauthenticated && o.SensitiveClasses != 0 && o.Event.Login == nil {
		share := 0.0
		if ep.Analyzed > 0 {
			share = float64(ep.UnauthSensitive) / float64(ep.Analyzed)
		}
		if o.Learned && share > x.UnauthenticatedShare {
			return // a public endpoint that serves such data by design
		}
		names, sev := classNames(o.SensitiveClasses)
		d.fire(o, &trigger{detector: finding.DataExposure, kind: "unauthenticated_sensitive", severity: sev,
			subject: "unauthenticated", minCount: int64(x.MinUnauthenticated),
			evidence: []finding.Evidence{evidence("unauthenticated_sensitive_share", share, 0, 0, x.UnauthenticatedShare,
				"responses with "+strings.Join(names, ", ")+" to callers without credentials")},
			summary: fmt.Sprintf("%s served %s to callers without credentials.", ep.Name, strings.Join(names, ", "))})
	}
}

// stuffing: on login endpoints, one source trying many usernames, many
// sources failing a little each, one username tried many times, and a
// success right after a run of failures.
func (d *Engine) stuffing(o *baseline.Observation, t *thresholds) {
	ep, s := o.Endpoint, &t.Stuffing
	if src := o.Source; src != nil {
		var base float64
		if o.Learned {
			base = baseline.Quantile(ep.SourceUsernames, 0.99)
		}
		users := float64(src.Usernames.Len())
		// Stuffing fails: a source that logs many users in (a shared kiosk, a
		// test harness) is not one.
		if thr := threshold(s.MinUsernames, s.UsernamesMultiple, base); users >= thr && src.Failures*2 >= src.Attempts {
			src.Flagged = true
			d.fireLogin(o, &trigger{detector: finding.CredentialStuffing, kind: "many_usernames", severity: finding.High,
				subject:  "source " + src.IP,
				evidence: []finding.Evidence{evidence("usernames_per_source_window", users, base, s.MinUsernames, thr, "p99 of sources' windows")},
				counts:   map[string]int64{"usernames": int64(users), "attempts": int64(src.Attempts), "failures": int64(src.Failures)},
				summary:  fmt.Sprintf("%s tried %.0f distinct usernames on %s within %s (%d failed).", src.IP, users, ep.Name, d.store.Window(), src.Failures)})
		}
	}
	if u := o.Username; u != nil {
		if float64(u.Attempts) >= s.MinAttempts && u.Failures*5 >= u.Attempts*4 {
			d.fireLogin(o, &trigger{detector: finding.CredentialStuffing, kind: "brute_force", severity: finding.High,
				subject: "username " + u.Hash, clientIPs: u.RunSources,
				evidence: []finding.Evidence{evidence("attempts_per_username_window", float64(u.Attempts), 0, s.MinAttempts, s.MinAttempts,
					fmt.Sprintf("%d of them failed", u.Failures))},
				counts:  map[string]int64{"attempts": int64(u.Attempts), "failures": int64(u.Failures), "sources": int64(u.Sources.Len())},
				summary: fmt.Sprintf("One username was tried %d times on %s within %s, %d failing (brute force).", u.Attempts, ep.Name, d.store.Window(), u.Failures)})
		}
	}
	// One takeover per login: the account's (it is what is at risk), else
	// the source's.
	if o.Outcome == event.LoginOutcome_LOGIN_OUTCOME_SUCCESS {
		switch u, src := o.Username, o.Source; {
		case u != nil && float64(u.FailuresBeforeSuccess) >= s.MinFailuresBeforeSuccess:
			d.takeover(o, "username "+u.Hash, float64(u.FailuresBeforeSuccess), s)
		case src != nil && float64(src.FailuresBeforeSuccess) >= s.MinFailuresBeforeSuccess:
			d.takeover(o, "source "+src.IP, float64(src.FailuresBeforeSuccess), s)
		}
	}
	d.distributed(o, s)
}

// fireLogin fires a credential-stuffing trigger. A login window with an
// attack in it is no baseline for the next ones: it is flagged, so that it
// is not learned from when it closes.
func (d *Engine) fireLogin(o *baseline.Observation, tr *trigger) {
	o.Endpoint.LoginWindow.Flagged = true
	d.fire(o, tr)
}

// maxFailureRatio caps the distributed detector's ratio threshold.
const maxFailureRatio = 0.9

// distributed: many sources each failing a few times, the window's failure
// ratio far above the endpoint's usual one.
func (d *Engine) distributed(o *baseline.Observation, s *Stuffing) {
	ep := o.Endpoint
	w := &ep.LoginWindow
	if float64(w.FewFailures) < s.MinFailures || float64(w.FewSources) < s.MinSources || w.Attempts == 0 {
		return
	}
	ratio := float64(w.Failures) / float64(w.Attempts)
	var base float64
	if o.Learned {
		base = ep.FailureRatio()
	}
	// A ratio cannot pass 1: an endpoint that usually fails a third of its
	// logins is still reported when nearly all fail.
	thr := max(s.MinFailureRatio, min(s.RatioMultiple*base, maxFailureRatio))
	if ratio < thr {
		return
	}
	d.fireLogin(o, &trigger{detector: finding.CredentialStuffing, kind: "distributed", severity: finding.High,
		subject: "endpoint", clientIPs: fewSourceIPs(w),
		evidence: []finding.Evidence{
			evidence("failure_ratio_window", ratio, base, s.MinFailureRatio, thr, "median of the endpoint's past login windows"),
			evidence("failures_from_few_attempt_sources", float64(w.FewFailures), 0, s.MinFailures, s.MinFailures,
				fmt.Sprintf("from %d sources of at most %d attempts each", w.FewSources, baseline.FewAttempts))},
		counts: map[string]int64{"attempts": int64(w.Attempts), "failures": int64(w.Failures), "sources": int64(w.FewSources)},
		summary: fmt.Sprintf("%d sources, each trying at most %d times, failed %d logins on %s within %s (distributed stuffing).",
			w.FewSources, baseline.FewAttempts, w.FewFailures, ep.Name, d.store.Window())})
}

// fewSourceIPs lists some of the window's failing few-attempt sources.
func fewSourceIPs(w *baseline.LoginWindow) []string {
	var ips []string
	for ip, c := range w.Sources {
		if c.Failures > 0 && c.Attempts <= baseline.FewAttempts {
			if ips = append(ips, ip); len(ips) == maxClientIPs {
				break
			}
		}
	}
	slices.Sort(ips)
	return ips
}

func (d *Engine) takeover(o *baseline.Observation, subject string, failures float64, s *Stuffing) {
	d.fireLogin(o, &trigger{detector: finding.CredentialStuffing, kind: "takeover", severity: finding.Critical,
		subject: subject, actor: o.Event.Actor,
		evidence: []finding.Evidence{evidence("failures_before_success", failures, 0, s.MinFailuresBeforeSuccess, s.MinFailuresBeforeSuccess, "")},
		counts:   map[string]int64{"failures_before_success": int64(failures)},
		summary:  fmt.Sprintf("A login on %s succeeded right after %.0f failures for the same %s: likely account takeover.", o.Endpoint.Name, failures, strings.SplitN(subject, " ", 2)[0])})
}

// Sensitive classes whose appearance is high severity (the others, email
// and phone, medium).
const highClasses = 1<<(event.SensitiveClass_SENSITIVE_CLASS_CARD-1) | 1<<(event.SensitiveClass_SENSITIVE_CLASS_SSN-1) |
	1<<(event.SensitiveClass_SENSITIVE_CLASS_IBAN-1) | 1<<(event.SensitiveClass_SENSITIVE_CLASS_JWT-1) |
	1<<(event.SensitiveClass_SENSITIVE_CLASS_PRIVATE_KEY-1) | 1<<(event.SensitiveClass_SENSITIVE_CLASS_CLOUD_SECRET-1) |
	1<<(event.SensitiveClass_SENSITIVE_CLASS_PASSWORD_FIELD-1) | 1<<(event.SensitiveClass_SENSITIVE_CLASS_SECRET_FIELD-1)

func classNames(mask uint16) ([]string, finding.Severity) {
	var names []string
	for c := range baseline.NumClasses {
		if mask&(1<<c) != 0 {
			names = append(names, strings.ToLower(strings.TrimPrefix(event.SensitiveClass(c+1).String(), "SENSITIVE_CLASS_")))
		}
	}
	if mask&highClasses != 0 {
		return names, finding.High
	}
	return names, finding.Medium
}

// sensitiveWords mark field names whose appearance in a response is a leak
// rather than ordinary schema growth.
var sensitiveWords = []string{"ssn", "social_security", "password", "passwd", "secret", "token", "hash", "salt",
	"private_key", "api_key", "apikey", "credit_card", "card_number", "cvv", "iban", "dob", "date_of_birth", "birth",
	"salary", "tax_id", "national_id", "passport", "mfa", "otp"}

func sensitiveFields(paths []string) []string {
	var out []string
	for _, p := range paths {
		leaf := strings.ToLower(p[strings.LastIndexAny(p, ".]")+1:])
		for _, w := range sensitiveWords {
			if strings.Contains(leaf, w) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func actorID(a *event.Actor) string {
	if a == nil {
		return ""
	}
	return a.Id
}

func actorKindWord(a *event.Actor) string {
	if a == nil {
		return "unidentified"
	}
	switch a.Kind {
	case event.ActorKind_ACTOR_KIND_CLIENT_IP:
		return "unauthenticated"
	default:
		return "authenticated"
	}
}
