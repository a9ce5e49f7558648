package trafficgen

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
)

// action is what a step asks the API for.
type action uint8

const (
	doMe           action = iota // GET /api/v1/me
	doUser                       // GET /api/v1/users/{id}
	doUserUpdate                 // PUT /api/v1/users/{id}
	doUsers                      // GET /api/v1/users?page=N&limit=50
	doUserDump                   // GET /api/v1/users?page=N&limit=200
	doOrder                      // GET /api/v1/orders/{uuid}
	doForeignOrder               // GET /api/v1/orders/{uuid} of an order other actors fetched
	doOrderItems                 // GET /api/v1/orders/{uuid}/items
	doOrderItemAdd               // POST /api/v1/orders/{uuid}/items
	doProducts                   // GET /api/v2/products?page=N&limit=50
	doProduct                    // GET /api/v2/products/{id}
	doSearch                     // GET /api/v2/search?q=…
	doLogin                      // POST /auth/login
)

// leak is the new_sensitive_field episode: while it lasts, /api/v1/me
// answers with the caller's social security number.
type leak struct {
	window
	label *label
}

// fill makes q of a's step st, sent at t. Records (users, orders,
// products) are drawn from streams of their own, so that an object looks
// the same in every response that shows it.
func (s *cast) fill(g *generator, a *actor, st *step, q *request, t int64) {
	r := a.wire
	rb, wb := q.begin(r)
	q.status, q.label = st.status, st.label
	id := strconv.Itoa(st.id)
	switch st.do {
	case doMe:
		q.method, q.template, q.path = "GET", "/api/v1/me", "/api/v1/me"
		wb = wb.user(objRand(g, "user", strconv.Itoa(a.userID)), a.userID)
		if s.leak != nil && s.leak.has(t) && q.status == 200 {
			wb = wb.with("ssn", ssn(objRand(g, "ssn", strconv.Itoa(a.userID))))
			q.label = s.leak.label
		}
	case doUser, doUserUpdate:
		q.method, q.template, q.path = "GET", "/api/v1/users/{id}", "/api/v1/users/"+id
		if st.do == doUserUpdate {
			q.method = "PUT"
			rb = rb.user(objRand(g, "user", id), st.id)
		}
		wb = wb.user(objRand(g, "user", id), st.id)
	case doUsers, doUserDump:
		pages, limit := g.pool.userPages, "50"
		if st.do == doUserDump {
			pages, limit = s.dumps, "200"
		}
		q.method, q.template, q.path = "GET", "/api/v1/users", "/api/v1/users?page="+id+"&limit="+limit
		q.resp = pick(r, pages)
		q.proc = ms(r, 5, 60)
	case doOrder, doForeignOrder:
		if st.do == doForeignOrder {
			st.order, st.owner = s.foreignOrder(a, t)
		} else {
			s.fetched = append(s.fetched, fetch{st.order, st.owner, t})
		}
		q.method, q.template, q.path = "GET", "/api/v1/orders/{uuid}", "/api/v1/orders/"+st.order
		q.etag = `W/"` + strconv.FormatUint(objRand(g, "etag", st.order).Uint64()>>32, 16) + `"`
		if st.cond {
			q.ifNoneMatch = q.etag
		}
		wb = wb.order(objRand(g, "order", st.order), st.order, st.owner)
	case doOrderItems:
		q.method, q.template, q.path = "GET", "/api/v1/orders/{uuid}/items", "/api/v1/orders/"+st.order+"/items"
		q.resp = pick(r, g.pool.orderItems)
	case doOrderItemAdd:
		q.method, q.template, q.path = "POST", "/api/v1/orders/{uuid}/items", "/api/v1/orders/"+st.order+"/items"
		rb, wb = addItem(rb, wb, r, st.id)
	case doProducts:
		q.method, q.template, q.path = "GET", "/api/v2/products", "/api/v2/products?page="+id+"&limit=50"
		q.resp = pick(r, g.pool.productPages)
	case doProduct:
		q.method, q.template, q.path = "GET", "/api/v2/products/{id}", "/api/v2/products/"+id
		wb = wb.product(objRand(g, "product", id), st.id)
	case doSearch:
		q.method, q.template, q.path = "GET", "/api/v2/search", "/api/v2/search?q="+pick(r, searchTerms)+"&page=1"
		q.resp = pick(r, g.pool.productPages)
		q.proc = ms(r, 20, 150)
	case doLogin:
		q.settle(a.login(q, st.user, rb, wb))
		return
	}
	q.settle(rb, errorBody(wb, q.status, q.requestID))
}

// login writes a's attempt to log in as user, and the answer q.status
// says; a success hands out a token and a session, and a keeps one: a
// browser that had a session cookie the new one, any other client the
// token.
func (a *actor) login(q *request, user string, rb, wb jsonBuf) (jsonBuf, jsonBuf) {
	r := a.wire
	q.method, q.template, q.path = "POST", "/auth/login", "/auth/login"
	rb = append(rb, '{')
	rb = append(rb.kstr("username", user).kstr("password", randToken(r, 8+r.IntN(8))), '}')
	q.proc = ms(r, 60, 250) // password hashing is deliberately slow
	if q.status != 200 {
		return rb, wb.apiError("invalid_credentials", "Invalid username or password.", q.requestID)
	}
	token := jwt(r, a.userID)
	wb, session := loginAnswer(wb, r, token)
	q.setCookie = sessionCookie(session)
	if a.session != "" {
		a.session = session
	} else {
		a.token = token
	}
	return rb, wb
}

// foreignOrder returns an order that actors other than a fetched before t,
// one not handed out before: the walk goes through them in the order they
// were fetched.
func (s *cast) foreignOrder(a *actor, t int64) (string, int) {
	for ; s.nextForeign < len(s.fetched) && s.fetched[s.nextForeign].t < t; s.nextForeign++ {
		f := s.fetched[s.nextForeign]
		if f.owner != a.userID && !s.handedOut[f.order] {
			s.handedOut[f.order] = true
			s.nextForeign++
			return f.order, f.owner
		}
	}
	// A capture too short to have any: some member's order all the same.
	m := pick(a.plan, s.members)
	return m.orders[0], m.userID
}

// objRand is the random stream of one object, the same every time.
func objRand(g *generator, kind, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(g.cfg.Seed, h.Sum64()))
}

// ssn is a valid-looking US social security number: area 001–899 but 666,
// group 01–99, serial 0001–9999.
func ssn(r *rand.Rand) string {
	area := 1 + r.IntN(898)
	if area >= 666 {
		area++
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+r.IntN(99), 1+r.IntN(9999))
}
