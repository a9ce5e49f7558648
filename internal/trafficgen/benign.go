package trafficgen

import (
	"math"
	"math/rand/v2"
	"time"
)

// Address groups: an actor's address is 10.<group>.x.y.
const (
	grpMembers = 20 // signed-in customers: shoppers, pollers, mistypers
	grpGuests  = 21 // anonymous storefront visitors
	grpCrowd   = 30 // the flash crowd
	grpStaff   = 40 // support agents
	grpService = 50 // the sync job
	grpAttack  = 66 // attackers with one address
	grpBots    = 67 // the distributed stuffing botnet
)

// The benign population. Shoppers make up the rate the heavy users leave.
const (
	pollers   = 6
	staff     = 3
	crowdSize = 300
	mistypers = 6
	// shopperRate is one shopper's requests per second over a long capture
	// (measured), heavyRate those of the heavy users together.
	shopperRate = 0.027
	heavyRate   = 4
	guestShare  = 0.2 // of shoppers, anonymous
)

// castBenign enlists the benign actors, drawing the crowd's and the
// mistypers' times from g.r; castAttacks draws after it, so both scenarios
// get the same benign actors.
func (s *cast) castBenign(g *generator) {
	s.castShoppers(g)
	for range staff {
		s.enlist(g, grpStaff, profiles("browser"), credCookie, staffer{})
	}
	s.castSyncJob(g)
	s.castPollers(g)
	s.castCrowd(g)
	s.castMistypers(g)
}

// castShoppers enlists as many shoppers as make up the rate the heavy
// users leave: guests, and members on the app or the web.
func (s *cast) castShoppers(g *generator) {
	n := int(math.Round(max(g.cfg.Rate-heavyRate, 1) / shopperRate))
	for i := range n {
		switch {
		case i < int(guestShare*float64(n)):
			s.enlist(g, grpGuests, profiles("browser", "firefox", "okhttp"), credNone, shopper{})
		case i%3 == 0:
			s.members = append(s.members, s.enlist(g, grpMembers, profiles("okhttp"), credJWT, shopper{}))
		case i%3 == 1:
			s.members = append(s.members, s.enlist(g, grpMembers, profiles("browser"), credJWT, shopper{}))
		default:
			s.members = append(s.members, s.enlist(g, grpMembers, profiles("browser", "firefox"), credCookie, shopper{}))
		}
	}
}

// castSyncJob enlists a service account paging through every user, from
// the start of the capture to its end.
func (s *cast) castSyncJob(g *generator) {
	l := g.newLabel("", "", "service_account")
	s.enlist(g, grpService, profiles("python"), credAPIKey, &steady{window: s.window, gap: [2]float64{0.45, 0.55},
		make: func(a *actor, i int) step {
			return step{server: a.api, do: doUser, id: i + 1, status: sometimes(a.plan, 30, 404, 200), label: l}
		}})
}

// castPollers enlists mobile apps polling the status of their orders.
func (s *cast) castPollers(g *generator) {
	for range pollers {
		l := g.newLabel("", "", "polling_client")
		s.enlist(g, grpMembers, profiles("okhttp"), credJWT, &steady{window: s.window, gap: [2]float64{3, 8},
			make: func(a *actor, i int) step { return poll(a, i, l) }})
	}
}

// castCrowd enlists a flash crowd: for a minute, hundreds of people open
// one product of the storefront.
func (s *cast) castCrowd(g *generator) {
	hot := popularProduct(g.r)
	crowd := window{s.at(0.58), s.at(0.58) + min(int64(time.Minute), (s.to-s.from)/12)}
	l := g.newLabel("", "", "flash_crowd")
	for i := range crowdSize {
		from := crowd.from + g.r.Int64N(crowd.to-crowd.from)
		visit := &steady{window: window{from, crowd.to}, gap: [2]float64{2, 15}, max: 1 + g.r.IntN(3),
			make: func(*actor, int) step { return step{server: srvShop, do: doProduct, id: hot, status: 200, label: l} }}
		cred := credNone
		if i%3 == 0 {
			cred = credJWT
		}
		s.enlist(g, grpCrowd, profiles("browser", "okhttp"), cred, visit)
	}
}

// castMistypers enlists members who get their password wrong before they
// get it right, spread over the capture but its last third, which leaves
// the last a minute to get it right in a short capture.
func (s *cast) castMistypers(g *generator) {
	for i := range mistypers {
		at := s.at(0.08+0.12*float64(i)) + g.r.Int64N((s.to-s.from)/36)
		s.enlist(g, grpMembers, profiles("browser", "firefox", "okhttp"), credJWT, &mistyper{at: at, label: g.newLabel("", "", "mistyped_passwords")})
	}
}

// profiles are the user agents of uaProfiles with these names.
func profiles(names ...string) []uaProfile {
	var out []uaProfile
	for _, p := range uaProfiles {
		for _, n := range names {
			if p.name == n {
				out = append(out, p)
			}
		}
	}
	return out
}

// sometimes is rare one time in n, usual otherwise.
func sometimes(r *rand.Rand, n, rare, usual int) int {
	if r.IntN(n) == 0 {
		return rare
	}
	return usual
}

// shopper is a customer in the web or mobile app, or an anonymous visitor
// of the storefront: every few minutes a visit of a few page views, each a
// burst of API calls; a member reads its own account and orders, and now
// and then logs in afresh.
type shopper struct{}

func (shopper) visit(s *cast, a *actor, t int64) bool {
	r := a.plan
	if a.visits == 0 {
		t += seconds(r, 0, 200) // a population in full swing from the start
	} else {
		t += int64(15e9 + min(r.ExpFloat64(), 6)*150e9)
	}
	if a.signedIn() && r.IntN(8) == 0 {
		a.add(step{at: t, server: srvAuth, do: doLogin, user: a.username, status: 200})
		t += seconds(r, 0.5, 2)
	}
	for range 2 + r.IntN(5) {
		t = a.pageView(t) + int64(1e9+min(r.ExpFloat64(), 3)*7e9) // reading the page
	}
	return true
}

func (a *actor) signedIn() bool { return a.token != "" || a.session != "" }

// Page views of the app, each a burst of API calls.
const (
	pageCatalog = iota
	pageProduct
	pageSearch
	pageAccount
	pageOrders
	pageProfile
	pageCart
	numPages
)

var (
	memberPages = [numPages]int{pageCatalog: 14, pageProduct: 34, pageSearch: 6, pageAccount: 16, pageOrders: 18, pageProfile: 5, pageCart: 7}
	guestPages  = [numPages]int{pageCatalog: 25, pageProduct: 60, pageSearch: 12, pageAccount: 3}
)

// pageView plans one page view at t and returns the time of its last call.
// A guest browses the storefront; the app asks whether it is signed in
// (and gets a 401) on the account page.
func (a *actor) pageView(t int64) int64 {
	r := a.plan
	weights, catalog, me := memberPages, a.api, 200
	if !a.signedIn() {
		weights, catalog, me = guestPages, srvShop, 401
	}
	call := func(st step) {
		st.at = t
		if st.status == 0 {
			st.status = sometimes(r, 400, 500, 200)
		}
		a.add(st)
		t += seconds(r, 0.03, 0.3) // the page's calls follow each other closely
	}
	order := pick(r, a.orders)
	switch weighted(r, weights[:]) {
	case pageCatalog:
		call(step{server: catalog, do: doProducts, id: 1 + r.IntN(5)})
	case pageProduct:
		call(step{server: catalog, do: doProduct, id: popularProduct(r), status: sometimes(r, 50, 404, 200)})
	case pageSearch:
		call(step{server: catalog, do: doSearch})
	case pageAccount:
		call(step{server: a.api, do: doMe, status: me})
	case pageOrders:
		call(step{server: a.api, do: doOrder, order: order, owner: a.userID})
		call(step{server: a.api, do: doOrderItems, order: order})
	case pageProfile:
		call(step{server: a.api, do: doUser, id: a.userID})
		if r.IntN(3) == 0 {
			call(step{server: a.api, do: doUserUpdate, id: a.userID})
		}
	case pageCart:
		product := popularProduct(r)
		call(step{server: a.api, do: doProduct, id: product})
		call(step{server: a.api, do: doOrderItemAdd, order: order, id: product, status: 201})
	}
	return a.clock
}

// popularProduct draws from a catalog of 5000 where a few products get
// most of the views.
func popularProduct(r *rand.Rand) int {
	return 1 + int(5000*math.Pow(r.Float64(), 2.5))
}

// staffer is a support agent: every few minutes it pages through the
// customer list and opens a few customers' accounts.
type staffer struct{}

func (staffer) visit(s *cast, a *actor, t int64) bool {
	r := a.plan
	if a.visits == 0 {
		t += seconds(r, 0, 300)
	} else {
		t += int64(60e9 + r.ExpFloat64()*240e9)
	}
	for page := range 1 + r.IntN(4) {
		a.add(step{at: t, server: a.api, do: doUsers, id: page + 1, status: 200})
		t += seconds(r, 5, 20)
	}
	for range 1 + r.IntN(3) {
		a.add(step{at: t, server: a.api, do: doUser, id: pick(r, s.members).userID, status: 200})
		t += seconds(r, 10, 40)
	}
	return true
}

// steady sends one kind of request at a steady pace over a window, max of
// them at most (0: no limit): a sync job, a poller, an attacker's tool.
type steady struct {
	window
	gap  [2]float64 // seconds between requests, drawn uniformly
	max  int
	make func(a *actor, i int) step // the i-th request; steady times it
}

func (p *steady) visit(_ *cast, a *actor, _ int64) bool {
	if a.visits > 0 {
		return false
	}
	r := a.plan
	t := p.from + seconds(r, 0, p.gap[0])
	for i := 0; t < p.to && (p.max == 0 || i < p.max); i++ {
		st := p.make(a, i)
		st.at = t
		a.add(st)
		t += seconds(r, p.gap[0], p.gap[1])
	}
	return true
}

// poll is a poller's i-th request: it goes round its first two orders and,
// once it has each, asks whether it changed (mostly not: 304).
func poll(a *actor, i int, l *label) step {
	mine := a.orders[:min(2, len(a.orders))]
	st := step{server: a.api, do: doOrder, order: mine[i%len(mine)], owner: a.userID, status: 200, label: l}
	if i >= len(mine) {
		st.cond, st.status = true, sometimes(a.plan, 7, 200, 304)
	}
	return st
}

// mistyper is a member who gets the password wrong once to three times,
// then right, and shops a little.
type mistyper struct {
	at    int64
	label *label
}

func (m *mistyper) visit(_ *cast, a *actor, _ int64) bool {
	if a.visits > 0 {
		return false
	}
	r := a.plan
	t := m.at
	for range 1 + r.IntN(3) {
		a.add(step{at: t, server: srvAuth, do: doLogin, user: a.username, status: 401, label: m.label})
		t += seconds(r, 4, 15) // retyping
	}
	a.add(step{at: t, server: srvAuth, do: doLogin, user: a.username, status: 200, label: m.label})
	for range 1 + r.IntN(3) {
		t = a.pageView(t+seconds(r, 1, 10)) + seconds(r, 2, 10)
	}
	return true
}
