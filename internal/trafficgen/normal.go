package trafficgen

import (
	"fmt"
	"strconv"
)

// A scenario decides who connects when, and what each connection asks.
type scenario interface {
	// open starts the first connections.
	open(g *generator)
	// schedule says when c, whose last packet is at last, sends its next
	// requests; with exchange false, c is done and the client closes it
	// at t instead.
	schedule(g *generator, c *conn, last int64) (t int64, exchange bool)
	// next fills q, a request c sends at t; idempotentOnly when q goes in
	// a pipelined batch.
	next(g *generator, c *conn, q *request, t int64, idempotentOnly bool)
	// closed follows c's last packet, at t, while generation goes on.
	closed(g *generator, c *conn, t int64)
}

var scenarios = map[string]func(*generator) (scenario, error){
	"normal":  newNormalMix,
	"benign":  func(g *generator) (scenario, error) { return newCast(g, false) },
	"attacks": func(g *generator) (scenario, error) { return newCast(g, true) },
}

// normalMix is API traffic tuned for parser throughput: a fixed number of
// connections open at once, each from a random client asking for random
// objects, until the capture reaches its size. Nothing in it is an actor's
// habit, so it suits parsers, not detectors.
type normalMix struct {
	clients []client
}

func newNormalMix(g *generator) (scenario, error) {
	cfg := &g.cfg
	if cfg.Size <= 0 || cfg.Conns < 0 || cfg.Rate < 0 || cfg.Clients <= 0 {
		return nil, fmt.Errorf("size and clients must be positive, conns and rate not negative")
	}
	// A small capture with hundreds of connections would be all handshakes:
	// scale concurrency with size, keeping each connection's mean think time
	// at 250 ms unless a rate is given.
	if cfg.Conns == 0 {
		cfg.Conns = int(min(max(cfg.Size/(512<<10), 16), 500))
	}
	if cfg.Rate == 0 {
		cfg.Rate = 4 * float64(cfg.Conns)
	}
	g.limit = cfg.Size
	return &normalMix{}, nil
}

func (m *normalMix) open(g *generator) {
	m.makeClients(g)
	// Stagger the first connections over one mean think time, so the capture
	// does not open with a burst of SYNs.
	start := g.cfg.Start.UnixNano()
	spread := g.meanThink()
	for range g.cfg.Conns {
		m.startConn(g, start+g.r.Int64N(spread+1))
	}
}

func (m *normalMix) makeClients(g *generator) {
	r := g.r
	m.clients = make([]client, g.cfg.Clients)
	for i := range m.clients {
		c := &m.clients[i]
		c.v6 = r.Float64() < g.cfg.IPv6
		if c.v6 {
			c.ip = ipv6(0xfd00, 0x20, 0, uint16(i>>16), uint16(i))
		} else {
			c.ip = ipv4(10, 20+byte(i/(254*256)), byte(i/254), byte(1+i%254))
		}
		c.nextPort = uint16(32768 + r.IntN(28000))
		c.ua, c.ttl = uaOf(r, uaProfiles)
		c.userID = 1 + r.IntN(100000)
		if r.IntN(25) > 0 {
			c.token = jwt(r, c.userID)
		}
		if c.ua.browser {
			c.gaID = gaID(r)
			if c.token != "" {
				c.session = randToken(r, 32)
			}
		}
	}
}

// startConn opens a connection from a random client to a random server.
func (m *normalMix) startConn(g *generator, t int64) {
	r := g.r
	cl := &m.clients[r.IntN(len(m.clients))]
	srv := &g.servers[r.IntN(len(g.servers))]
	c := g.newConn(cl, srv, r)
	c.requestsLeft = 1
	if r.IntN(10) >= 3 {
		c.requestsLeft = min(50, 2+int(r.ExpFloat64()*8))
	}
	c.pipelined = r.Float64() < g.cfg.Pipeline
	g.launch(c, t)
}

func (*normalMix) schedule(g *generator, c *conn, last int64) (int64, bool) {
	switch {
	case c.requestsLeft == 0 || g.stopping:
		// An idle keep-alive connection, closed by the client.
		return last + g.think(), false
	case c.state == stNew:
		// The first request follows the handshake at once.
		return last + int64(g.r.IntN(200_000)), true
	}
	return last + g.think(), true
}

// closed keeps cfg.Conns connections open.
func (m *normalMix) closed(g *generator, _ *conn, t int64) {
	m.startConn(g, t+int64(g.r.ExpFloat64()*float64(g.meanThink())/10))
}

// meanThink is the pause between two exchanges of one connection that gives
// cfg.Rate requests per second over cfg.Conns connections.
func (g *generator) meanThink() int64 {
	return int64(float64(g.cfg.Conns) / g.cfg.Rate * 1e9)
}

func (g *generator) think() int64 {
	mean := float64(g.meanThink())
	return int64(min(g.r.ExpFloat64(), 8) * mean)
}

// endpoint kinds of the normal mix, with their weights.
const (
	epUserGet = iota
	epUserList
	epUserCreate
	epUserUpdate
	epUserDelete
	epOrderGet
	epOrderItems
	epOrderItemAdd
	epProductList
	epProductGet
	epSearch
	epLogin
	epMe
	epHealth
	epExport
	numEndpoints
)

var endpointWeights = [numEndpoints]int{
	epUserGet: 1900, epUserList: 400, epUserCreate: 200, epUserUpdate: 300, epUserDelete: 100,
	epOrderGet: 800, epOrderItems: 800, epOrderItemAdd: 300, epProductList: 1000, epProductGet: 1200,
	epSearch: 400, epLogin: 400, epMe: 600, epHealth: 200, epExport: 5,
}

var idempotent = [numEndpoints]bool{epUserGet: true, epUserList: true, epOrderGet: true, epOrderItems: true,
	epProductList: true, epProductGet: true, epSearch: true, epMe: true, epHealth: true, epExport: true}

// next picks a random endpoint and random object ids.
func (*normalMix) next(g *generator, c *conn, q *request, _ int64, idempotentOnly bool) {
	r := c.r
	ep := weighted(r, endpointWeights[:])
	for idempotentOnly && !idempotent[ep] {
		ep = weighted(r, endpointWeights[:])
	}
	rb, wb := q.begin(r)
	userID := 1 + r.IntN(100000)

	switch ep {
	case epUserGet:
		q.method, q.template, q.path = "GET", "/api/v1/users/{id}", "/api/v1/users/"+strconv.Itoa(userID)
		q.etag = `W/"` + strconv.FormatUint(uint64(r.Uint32()), 16) + `"`
		if c.client.ua.browser && r.IntN(5) == 0 {
			q.ifNoneMatch = q.etag
			if r.IntN(2) == 0 {
				q.status = 304
			}
		}
		if q.status == 200 && r.IntN(20) == 0 {
			q.status = 404
		}
		wb = wb.user(r, userID)
	case epUserList:
		page := 1 + r.IntN(40)
		q.method, q.template, q.path = "GET", "/api/v1/users", "/api/v1/users?page="+strconv.Itoa(page)+"&limit=50"
		q.resp = pick(r, g.pool.userPages)
		q.proc = ms(r, 5, 60)
	case epUserCreate:
		q.method, q.template, q.path = "POST", "/api/v1/users", "/api/v1/users"
		rb = rb.user(r, 0)
		q.status = 201
		q.location = "/api/v1/users/" + strconv.Itoa(userID)
		wb = wb.user(r, userID)
	case epUserUpdate:
		q.method, q.template, q.path = "PUT", "/api/v1/users/{id}", "/api/v1/users/"+strconv.Itoa(userID)
		rb = rb.user(r, userID)
		if r.IntN(20) == 0 {
			q.status = 404
		}
		wb = wb.user(r, userID)
	case epUserDelete:
		q.method, q.template, q.path = "DELETE", "/api/v1/users/{id}", "/api/v1/users/"+strconv.Itoa(userID)
		q.status = 204
		if r.IntN(10) == 0 {
			q.status = 404
		}
	case epOrderGet, epOrderItems, epOrderItemAdd:
		id := uuidOf(r)
		q.method, q.template, q.path = "GET", "/api/v1/orders/{uuid}", "/api/v1/orders/"+id
		switch ep {
		case epOrderGet:
			wb = wb.order(r, id, 1+r.IntN(100000))
		case epOrderItems:
			q.template, q.path = q.template+"/items", q.path+"/items"
			q.resp = pick(r, g.pool.orderItems)
		case epOrderItemAdd:
			q.method, q.template, q.path = "POST", q.template+"/items", q.path+"/items"
			rb, wb = addItem(rb, wb, r, 1+r.IntN(200000))
			q.status = 201
		}
		if r.IntN(25) == 0 {
			q.status = 404
		}
	case epProductList:
		page := 1 + r.IntN(200)
		q.method, q.template, q.path = "GET", "/api/v2/products", "/api/v2/products?page="+strconv.Itoa(page)+"&limit=50"
		q.resp = pick(r, g.pool.productPages)
	case epProductGet:
		id := 1 + r.IntN(200000)
		q.method, q.template, q.path = "GET", "/api/v2/products/{id}", "/api/v2/products/"+strconv.Itoa(id)
		if r.IntN(30) == 0 {
			q.status = 404
		}
		wb = wb.product(r, id)
	case epSearch:
		q.method, q.template, q.path = "GET", "/api/v2/search", "/api/v2/search?q="+pick(r, searchTerms)+"&page=1"
		q.resp = pick(r, g.pool.productPages)
		q.proc = ms(r, 20, 150)
	case epLogin:
		q.method, q.template, q.path = "POST", "/auth/login", "/auth/login"
		user := asciiLower(pick(r, firstNames)) + "." + asciiLower(pick(r, lastNames)) + "@" + pick(r, emailDomains)
		rb = append(rb, '{')
		rb = append(rb.kstr("username", user).kstr("password", randToken(r, 12)), '}')
		q.proc = ms(r, 60, 250) // password hashing is deliberately slow
		if r.IntN(5) == 0 {
			q.status = 401 // answered by errorBody, as any 401
		} else {
			var session string
			wb, session = loginAnswer(wb, r, jwt(r, userID))
			q.setCookie = sessionCookie(session)
		}
	case epMe:
		q.method, q.template, q.path = "GET", "/api/v1/me", "/api/v1/me"
		wb = wb.user(r, c.client.userID)
	case epHealth:
		q.method, q.template, q.path = "HEAD", "/api/v1/health", "/api/v1/health"
		q.headOnly = true
		q.proc = ms(r, 0.1, 1)
		wb = append(wb, `{"status":"ok"}`...)
	case epExport:
		q.method, q.template, q.path = "GET", "/api/v1/export/customers", "/api/v1/export/customers?format=json"
		q.resp = pick(r, g.pool.exports)
		q.proc = ms(r, 300, 1500)
	}

	// Authorization failures apply to everything but login and health.
	if ep != epLogin && ep != epHealth {
		switch {
		case c.client.token == "":
			q.status = 401
		case r.IntN(70) == 0:
			q.status = 403
		case r.IntN(200) == 0:
			q.status = 500
			q.proc = ms(r, 100, 3000)
		}
	}
	q.settle(rb, errorBody(wb, q.status, q.requestID))
}
