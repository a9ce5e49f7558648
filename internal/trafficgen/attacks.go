package trafficgen

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// episode places one attack in the attack phase, the capture after the
// learning phase but for its last 24th, as fractions of that phase.
type episode struct {
	detector, kind string
	from, to       float64
	cast           func(s *cast, g *generator, w window, l *label)
}

// timeline holds three tracks, one per detector. Nine episodes of a minute
// or more do not fit one after the other in the 7.5 minutes a 12-minute
// capture has after learning, so the tracks overlap; but episodes of one
// detector never do, nor two episodes on one endpoint.
var timeline = []episode{
	{"credential_stuffing", "many_usernames", 0.02, 0.18, castManyUsernames},
	{"credential_stuffing", "distributed", 0.27, 0.45, castDistributed},
	{"credential_stuffing", "brute_force", 0.54, 0.70, castBruteForce},
	{"credential_stuffing", "takeover", 0.80, 0.96, castTakeover},
	{"enumeration", "sequential", 0.05, 0.23, castSequential},
	{"enumeration", "foreign_objects", 0.44, 0.62, castForeignObjects},
	{"data_exposure", "new_sensitive_field", 0.10, 0.28, castNewField},
	{"data_exposure", "scraping", 0.34, 0.50, castScraping},
	{"data_exposure", "unauthenticated_sensitive", 0.70, 0.86, castUnauthenticated},
}

func (s *cast) castAttacks(g *generator) {
	phase := window{s.learnEnd, s.to - (s.to-s.from)/24}
	for _, e := range timeline {
		id := strings.ReplaceAll(e.detector+"-"+e.kind, "_", "-")
		e.cast(s, g, window{phase.at(e.from), phase.at(e.to)}, g.newLabel(id, e.detector, e.kind))
	}
}

// castSequential: an account walks user ids one by one; most are not its
// own (403) or do not exist (404).
func castSequential(s *cast, g *generator, w window, l *label) {
	first := 20000 + g.r.IntN(60000)
	s.enlist(g, grpAttack, profiles("python"), credJWT, &steady{window: w, gap: [2]float64{0.2, 0.6},
		make: func(a *actor, i int) step {
			return step{server: a.api, do: doUser, id: first + i, status: sometimes(a.plan, 5, 404, 403), label: l}
		}})
}

// castForeignObjects: an account fetches, one after the other, orders
// other actors fetched earlier, and the API hands them over.
func castForeignObjects(s *cast, g *generator, w window, l *label) {
	s.enlist(g, grpAttack, profiles("go"), credJWT, &steady{window: w, gap: [2]float64{0.6, 1.4},
		make: func(a *actor, _ int) step { return step{server: a.api, do: doForeignOrder, status: 200, label: l} }})
}

// castNewField: a deployment makes /api/v1/me return the caller's social
// security number, until it is rolled back.
func castNewField(s *cast, _ *generator, w window, l *label) {
	s.leak = &leak{window: w, label: l}
}

// castScraping: an account pulls the user list 200 at a time, page after
// page, where support agents read pages of 50 now and then.
func castScraping(s *cast, g *generator, w window, l *label) {
	s.dumps = userDumps(g.r)
	s.enlist(g, grpAttack, profiles("python"), credJWT, &steady{window: w, gap: [2]float64{0.8, 1.6},
		make: func(a *actor, i int) step {
			return step{server: a.api, do: doUserDump, id: i + 1, status: 200, label: l}
		}})
}

// castUnauthenticated: a few clients without credentials read some
// members' profiles, and the API answers them in full.
func castUnauthenticated(s *cast, g *generator, w window, l *label) {
	var ids []int
	for range 5 {
		ids = append(ids, pick(g.r, s.members).userID)
	}
	for _, ua := range []string{"curl", "python", "okhttp"} {
		s.enlist(g, grpAttack, profiles(ua), credNone, &steady{window: w, gap: [2]float64{2, 6},
			make: func(a *actor, _ int) step {
				return step{server: a.api, do: doUser, id: pick(a.plan, ids), status: 200, label: l}
			}})
	}
}

// castManyUsernames: one client tries a leaked list of user names, none
// of which works.
func castManyUsernames(s *cast, g *generator, w window, l *label) {
	s.enlist(g, grpAttack, profiles("python"), credNone, &steady{window: w, gap: [2]float64{0.4, 1.2},
		make: func(a *actor, _ int) step {
			return step{server: srvAuth, do: doLogin, user: leakedName(a.plan), status: 401, label: l}
		}})
}

// castDistributed: a botnet of 150 addresses tries the leaked list, one to
// three names each; a few work.
func castDistributed(s *cast, g *generator, w window, l *label) {
	for range 150 {
		from := w.from + g.r.Int64N((w.to-w.from)*4/5)
		s.enlist(g, grpBots, uaProfiles, credNone, &steady{window: window{from, w.to}, gap: [2]float64{3, 20}, max: 1 + g.r.IntN(3),
			make: func(a *actor, _ int) step {
				return step{server: srvAuth, do: doLogin, user: leakedName(a.plan), status: sometimes(a.plan, 30, 200, 401), label: l}
			}})
	}
}

// castBruteForce: one client tries password after password for one member.
func castBruteForce(s *cast, g *generator, w window, l *label) {
	victim := pick(g.r, s.members).username
	s.enlist(g, grpAttack, profiles("curl"), credNone, &steady{window: w, gap: [2]float64{0.6, 1.5},
		make: func(*actor, int) step { return step{server: srvAuth, do: doLogin, user: victim, status: 401, label: l} }})
}

// castTakeover: one client tries passwords for one member until one works,
// then reads the account.
func castTakeover(s *cast, g *generator, w window, l *label) {
	victim := pick(g.r, s.members)
	a := s.enlist(g, grpAttack, profiles("python"), credNone, &takeover{steady{window: w, gap: [2]float64{1, 3},
		make: func(*actor, int) step {
			return step{server: srvAuth, do: doLogin, user: victim.username, status: 401, label: l}
		}}})
	a.userID = victim.userID // the token it wins is the victim's
}

// takeover is a steady stream of failed logins, then the one that works
// and a look at the account won.
type takeover struct{ steady }

func (k *takeover) visit(s *cast, a *actor, t int64) bool {
	if !k.steady.visit(s, a, t) || len(a.steps) == 0 {
		return false
	}
	st := a.steps[len(a.steps)-1]
	st.at += seconds(a.plan, k.gap[0], k.gap[1])
	st.status = 200
	a.add(st)
	a.add(step{at: st.at + seconds(a.plan, 1, 3), server: a.api, do: doMe, status: 200})
	return true
}

// leakedName is a user name from a breach list: most have no account here.
func leakedName(r *rand.Rand) string {
	return asciiLower(pick(r, firstNames)) + strconv.Itoa(1950+r.IntN(60)) + "." + asciiLower(pick(r, lastNames)) + "@" + pick(r, emailDomains)
}
