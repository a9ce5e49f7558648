package trafficgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// cast runs the actor scenarios, "benign" and "attacks": every client is an
// actor with an identity and habits of its own (a shopper reading its own
// orders, a sync job, an attacker's tool), who plans its requests as steps.
// The generator maps each actor's steps onto connections, one at a time,
// kept alive while the next step goes to the same server soon enough.
//
// Each actor draws from random streams of its own, so adding the attackers
// changes none of the benign actors' plans: "attacks" is "benign" with the
// episodes added (and /api/v1/me leaking while new_sensitive_field lasts).
type cast struct {
	actors   []*actor
	attacks  bool
	window            // the capture
	learnEnd int64    // no episode starts before
	leak     *leak    // the new_sensitive_field episode; nil in "benign"
	members  []*actor // signed-in shoppers: victims, and accounts staff look up

	// What the foreign_objects attacker walks: orders as benign actors
	// fetched them, how far it got, and which it already asked for.
	fetched     []fetch
	nextForeign int
	handedOut   map[string]bool

	dumps   []body       // pages of 200 users, for the scraper
	ipCount map[byte]int // hosts handed out per address group
}

// window is a span of capture time, Unix ns, from included, to excluded.
type window struct{ from, to int64 }

func (w window) has(t int64) bool { return t >= w.from && t < w.to }

// at is the time a fraction f into w.
func (w window) at(f float64) int64 { return w.from + int64(f*float64(w.to-w.from)) }

// fetch is an order a benign actor fetched: what the foreign_objects
// attacker later asks for.
type fetch struct {
	order string
	owner int
	t     int64
}

// minDuration leaves every episode a few seconds at least.
const minDuration = time.Minute

// Default request rate of the actor scenarios, all actors together: a
// 12-minute capture comes to about 45 MB.
const defaultActorRate = 30

func newCast(g *generator, attacks bool) (scenario, error) {
	cfg := &g.cfg
	if cfg.Duration < minDuration || cfg.Rate < 0 {
		return nil, fmt.Errorf("scenario %s: duration must be %v or more (got %v), rate not negative", cfg.Scenario, minDuration, cfg.Duration)
	}
	if cfg.Rate == 0 {
		cfg.Rate = defaultActorRate
	}
	start := cfg.Start.UnixNano()
	s := &cast{
		attacks:   attacks,
		window:    window{start, start + int64(cfg.Duration)},
		handedOut: map[string]bool{},
		ipCount:   map[byte]int{},
	}
	// Four minutes to learn from, or a third of a short capture.
	s.learnEnd = start + min(int64(4*time.Minute), int64(cfg.Duration)/3)
	g.end = s.to
	return s, nil
}

// actor is one client host and the person or program behind it.
type actor struct {
	client
	plan     *rand.Rand // what the actor does and when
	wire     *rand.Rand // how it looks: TCP particulars, body values
	role     role
	username string
	orders   []string
	api      int    // the api.example.com server it resolved
	steps    []step // planned; the next is steps[head]
	head     int
	clock    int64 // time of its last planned step
	visits   int
	done     bool
}

// A role is an actor's habit.
type role interface {
	// visit appends the actor's next visit, at t or later, to its steps;
	// it reports false when the actor has no more.
	visit(s *cast, a *actor, t int64) bool
}

// step is one request an actor means to send.
type step struct {
	at     int64 // capture time
	server int   // index in generator.servers
	do     action
	id     int    // user, product or page number
	order  string // order uuid
	owner  int    // the order's user
	user   string // login user name
	status int    // what the server answers
	cond   bool   // a revalidation (If-None-Match)
	label  *label
}

// Servers, as indexes in generator.servers.
const (
	srvAPI  = 0 // api.example.com, and srvAPI+1 its second address
	srvShop = 2 // shop.example.com, the public storefront
	srvAuth = 3 // auth.example.com, where everyone logs in
)

func (a *actor) add(st step) {
	a.steps = append(a.steps, st)
	a.clock = st.at
}

// peek returns the actor's next step before the capture ends, planning a
// visit when none is left; nil when the actor is done.
func (a *actor) peek(s *cast) *step {
	for a.head == len(a.steps) && !a.done {
		a.steps, a.head = a.steps[:0], 0
		// A visit that plans nothing has nothing more to come.
		if a.clock >= s.to || !a.role.visit(s, a, a.clock) || len(a.steps) == 0 {
			a.done = true
		}
		a.visits++
	}
	if a.head == len(a.steps) || a.steps[a.head].at >= s.to {
		return nil
	}
	return &a.steps[a.head]
}

// Connection reuse: a client keeps a connection while its next request
// follows within keepAliveIdle, and servers close one after
// keepAliveRequests (nginx's default).
const (
	keepAliveIdle     = 15 * time.Second
	keepAliveRequests = 100
)

func (s *cast) open(g *generator) {
	g.truth.LearningEnd = g.captureTime(s.learnEnd)
	g.truth.Episodes, g.truth.HeavyUsers = []Label{}, []Label{}
	s.castBenign(g)
	if s.attacks {
		s.castAttacks(g)
	}
	for _, a := range s.actors {
		s.connect(g, a, s.from)
	}
}

// connect opens a connection for a's next step, at t at the earliest.
func (s *cast) connect(g *generator, a *actor, t int64) {
	st := a.peek(s)
	if st == nil {
		return
	}
	if t = max(t, st.at); t >= s.to {
		return
	}
	c := g.newConn(&a.client, &g.servers[st.server], a.wire)
	c.actor = a
	c.requestsLeft = keepAliveRequests
	g.launch(c, t)
}

func (s *cast) schedule(g *generator, c *conn, last int64) (int64, bool) {
	st := c.actor.peek(s)
	idle := int64(keepAliveIdle)
	switch {
	case g.stopping || st == nil || c.requestsLeft == 0:
		return s.letGo(c, last, idle), false
	case &g.servers[st.server] != c.server || st.at-last > idle:
		// The client has no use for the connection soon.
		return s.letGo(c, last, max(st.at-last, 0)), false
	}
	return max(st.at, last+int64(c.r.IntN(200_000))), true
}

// letGo is when the client closes c, idle since last: after wait, or
// within a second of the capture's end.
func (s *cast) letGo(c *conn, last, wait int64) int64 {
	return min(last+min(wait, int64(keepAliveIdle)), max(last, s.to)+int64(c.r.IntN(1e9)))
}

func (s *cast) next(g *generator, c *conn, q *request, t int64, _ bool) {
	a := c.actor
	st := &a.steps[a.head]
	a.head++
	s.fill(g, a, st, q, t)
}

func (s *cast) closed(g *generator, c *conn, t int64) {
	s.connect(g, c.actor, t)
}

// credential is how an actor proves who it is.
type credential uint8

const (
	credNone credential = iota
	credJWT
	credCookie // only browsers send cookies
	credAPIKey
)

// enlist adds an actor with an account of its own, at the next address of
// group grp (10.grp.x.y, or fd00:grp::x for a cfg.IPv6 fraction of hosts),
// with a user agent from uas.
func (s *cast) enlist(g *generator, grp byte, uas []uaProfile, cred credential, role role) *actor {
	n := len(s.actors)
	a := &actor{plan: actorRand(g, n, 0), wire: actorRand(g, n, 1), role: role, clock: s.from}
	r := a.plan
	i := s.ipCount[grp]
	s.ipCount[grp]++
	if a.v6 = r.Float64() < g.cfg.IPv6; a.v6 {
		a.ip = ipv6(0xfd00, uint16(grp), 0, uint16(i>>16), uint16(i))
	} else {
		a.ip = ipv4(10, grp, byte(i/254), byte(1+i%254))
	}
	a.nextPort = uint16(32768 + r.IntN(28000))
	a.ua, a.ttl = uaOf(r, uas)
	a.api = srvAPI + r.IntN(2)
	// A step coprime to 100000 hands out distinct ids.
	a.userID = 1 + (n*48271+int(g.cfg.Seed%100000))%100000
	a.username = asciiLower(pick(r, firstNames)) + "." + asciiLower(pick(r, lastNames)) + strconv.Itoa(10+r.IntN(90)) + "@" + pick(r, emailDomains)
	for range 1 + r.IntN(5) {
		a.orders = append(a.orders, uuidOf(r))
	}
	if a.ua.browser {
		a.gaID = gaID(r)
	}
	switch cred {
	case credJWT:
		a.token = jwt(r, a.userID)
	case credCookie:
		a.session = randToken(r, 32)
	case credAPIKey:
		a.apiKey = "sk_live_" + randToken(r, 32)
	}
	s.actors = append(s.actors, a)
	return a
}

// actorRand is stream k of actor n's random streams, seeded apart from
// every other actor's.
func actorRand(g *generator, n, k int) *rand.Rand {
	return rand.New(rand.NewPCG(g.cfg.Seed, uint64(n)<<8|uint64(k)|0xac<<56))
}

// seconds draws a duration between lo and hi seconds, in ns.
func seconds(r *rand.Rand, lo, hi float64) int64 {
	return int64((lo + (hi-lo)*r.Float64()) * 1e9)
}
