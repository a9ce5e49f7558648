package main

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// uaProfile is one kind of API client. The header blocks are copied verbatim
// from what these clients send, minus per-request values.
type uaProfile struct {
	name       string
	headers    string // after Host, before Authorization
	acceptGzip bool
	browser    bool // sends cookies and conditional requests
	weight     int
}

var uaProfiles = []uaProfile{
	{name: "browser", weight: 35, acceptGzip: true, browser: true, headers: "Connection: keep-alive\r\n" +
		"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
		"Accept: application/json, text/plain, */*\r\n" +
		"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
		"sec-ch-ua-platform: \"Windows\"\r\nOrigin: https://app.example.com\r\nReferer: https://app.example.com/\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n"},
	{name: "firefox", weight: 10, acceptGzip: true, browser: true, headers: "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n" +
		"Accept: application/json\r\nAccept-Language: de,en-US;q=0.7,en;q=0.3\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Origin: https://app.example.com\r\nConnection: keep-alive\r\n"},
	{name: "okhttp", weight: 25, acceptGzip: true, headers: "Accept: application/json\r\nX-App-Version: 5.12.1 (android)\r\n" +
		"Accept-Encoding: gzip\r\nConnection: Keep-Alive\r\nUser-Agent: okhttp/4.12.0\r\n"},
	{name: "curl", weight: 8, headers: "User-Agent: curl/8.5.0\r\nAccept: */*\r\n"},
	{name: "python", weight: 12, acceptGzip: true, headers: "User-Agent: python-requests/2.31.0\r\n" +
		"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"},
	{name: "go", weight: 10, acceptGzip: true, headers: "User-Agent: Go-http-client/1.1\r\nAccept: application/json\r\n" +
		"Accept-Encoding: gzip\r\n"},
}

// request is one planned request/response pair: everything both sides will
// put on the wire, decided before either is serialized.
type request struct {
	method, path, template string
	body                   []byte // request body (JSON), nil when none
	ifNoneMatch            string
	close                  bool // client asks for Connection: close

	status    int
	resp      body   // response body; resp.gz is nil when not precompressed
	headOnly  bool   // HEAD: headers announce the body, none follows
	etag      string // set on cacheable 200s and 304s
	location  string
	setCookie string
	proc      int64 // server think time, ns
	requestID string

	scratchReq, scratchResp jsonBuf // reused per-request buffers
}

// scenario decides what each connection asks for. "normal" is ordinary API
// use; attack scenarios (enumeration, credential stuffing, scraping) are meant
// to be added as further implementations that take over some clients.
type scenario interface {
	next(g *generator, c *conn, q *request, idempotentOnly bool)
}

var scenarios = map[string]func() scenario{
	"normal": func() scenario { return normalMix{} },
}

type normalMix struct{}

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

func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func ms(r *rand.Rand, lo, hi float64) int64 {
	return int64((lo + (hi-lo)*r.Float64()) * float64(time.Millisecond))
}

func (normalMix) next(g *generator, c *conn, q *request, idempotentOnly bool) {
	r := g.r
	ep := weighted(r, endpointWeights[:])
	for idempotentOnly && !idempotent[ep] {
		ep = weighted(r, endpointWeights[:])
	}
	q.body, q.ifNoneMatch, q.etag, q.location, q.setCookie = nil, "", "", "", ""
	q.resp = body{}
	q.headOnly = false
	q.proc = ms(r, 1, 25)
	q.status = 200
	q.requestID = uuidOf(r)
	rb, wb := q.scratchReq[:0], q.scratchResp[:0]
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
			wb = wb.order(r, id)
		case epOrderItems:
			q.template, q.path = q.template+"/items", q.path+"/items"
			q.resp = pick(r, g.pool.orderItems)
		case epOrderItemAdd:
			q.method, q.template, q.path = "POST", q.template+"/items", q.path+"/items"
			rb = append(rb, '{')
			rb = append(rb.kint("product_id", 1+r.IntN(200000)).kint("quantity", 1+r.IntN(3)), '}')
			q.status = 201
			wb = wb.orderItem(r, 1+r.IntN(1000000))
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
			q.status = 401
			wb = wb.apiError("invalid_credentials", "Invalid username or password.", q.requestID)
		} else {
			wb = append(wb, '{')
			wb = wb.kstr("access_token", jwt(r, userID)).kstr("token_type", "Bearer").kint("expires_in", 3600)
			wb = append(wb.kstr("refresh_token", randToken(r, 40)), '}')
			q.setCookie = "session=" + randToken(r, 32) + "; Path=/; HttpOnly; Secure; SameSite=Lax"
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
	switch q.status {
	case 401:
		wb = wb[:0].apiError("unauthorized", "Missing or invalid bearer token.", q.requestID)
	case 403:
		wb = wb[:0].apiError("forbidden", "You do not have access to this resource.", q.requestID)
	case 404:
		wb = wb[:0].apiError("not_found", "The requested resource does not exist.", q.requestID)
	case 500:
		wb = wb[:0].apiError("internal", "An unexpected error occurred.", q.requestID)
	}
	if q.status != 200 || ep == epUserCreate || ep == epOrderItemAdd {
		q.resp = body{}
	}
	if q.status/100 != 2 {
		q.location = ""
	}
	if q.resp.plain == nil && q.status != 204 && q.status != 304 {
		q.resp.plain = wb
	}
	if q.status != 200 && q.status != 304 {
		q.etag = ""
	}
	if len(rb) > 0 {
		q.body = rb
	}
	q.scratchReq, q.scratchResp = rb, wb
}

func (g *generator) appendRequest(b []byte, c *conn, q *request) []byte {
	cl := c.client
	b = append(b, q.method...)
	b = append(b, ' ')
	b = append(b, q.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.server.name...)
	b = append(b, "\r\n"...)
	b = append(b, cl.ua.headers...)
	if cl.token != "" && q.template != "/auth/login" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, cl.token...)
		b = append(b, "\r\n"...)
	}
	if cl.ua.browser {
		b = append(b, "Cookie: _ga=GA1.2."...)
		b = append(b, cl.gaID...)
		if cl.session != "" {
			b = append(b, "; session="...)
			b = append(b, cl.session...)
		}
		b = append(b, "\r\n"...)
	}
	if q.ifNoneMatch != "" {
		b = append(b, "If-None-Match: "...)
		b = append(b, q.ifNoneMatch...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Request-ID: "...)
	b = append(b, q.requestID...)
	b = append(b, "\r\n"...)
	if q.body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(q.body)), 10)
		b = append(b, "\r\n"...)
	}
	if q.close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, q.body...)

	g.truth.Requests++
	g.truth.Methods[q.method]++
	g.truth.Endpoints[q.method+" "+q.template]++
	return b
}

// chunkSizes are the write sizes of common servers and frameworks; a zero
// stands for irregular sizes, as from a handler that flushes as it goes.
var chunkSizes = []int{1024, 2048, 4096, 8192, 16384, 0}

func (g *generator) appendResponse(b []byte, c *conn, q *request, now int64) []byte {
	r := g.r
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(q.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(q.status)...)
	b = append(b, "\r\nServer: "...)
	b = append(b, c.server.software...)
	b = append(b, "\r\nDate: "...)
	b = time.Unix(0, now).UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)

	payload := q.resp.plain
	gz := false
	chunked := false
	if len(payload) > 0 && !q.headOnly {
		b = append(b, "Content-Type: application/json; charset=utf-8\r\n"...)
		if q.resp.gz != nil && c.client.ua.acceptGzip && r.IntN(10) < 8 {
			gz, payload = true, q.resp.gz
			b = append(b, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"...)
		}
		// Streaming servers chunk large and compressed bodies more often.
		chance := 15
		if gz || len(payload) > 16<<10 {
			chance = 40
		}
		if r.IntN(100) < chance {
			chunked = true
			b = append(b, "Transfer-Encoding: chunked\r\n"...)
		} else {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, int64(len(payload)), 10)
			b = append(b, "\r\n"...)
		}
	} else if q.headOnly {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(payload)), 10)
		b = append(b, "\r\n"...)
	}
	if q.etag != "" {
		b = append(b, "ETag: "...)
		b = append(b, q.etag...)
		b = append(b, "\r\nCache-Control: private, max-age=0, must-revalidate\r\n"...)
	} else if q.status != 204 {
		b = append(b, "Cache-Control: no-store\r\n"...)
	}
	if q.location != "" {
		b = append(b, "Location: "...)
		b = append(b, q.location...)
		b = append(b, "\r\n"...)
	}
	if q.setCookie != "" {
		b = append(b, "Set-Cookie: "...)
		b = append(b, q.setCookie...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Request-ID: "...)
	b = append(b, q.requestID...)
	if q.close {
		b = append(b, "\r\nConnection: close\r\n\r\n"...)
	} else {
		b = append(b, "\r\nConnection: keep-alive\r\n\r\n"...)
	}

	switch {
	case q.headOnly, q.status == 204, q.status == 304:
		g.truth.NoBody++
	case chunked:
		b = appendChunked(b, payload, chunkSizes[r.IntN(len(chunkSizes))], r)
	default:
		b = append(b, payload...)
	}

	t := &g.truth
	t.Responses++
	t.Statuses[strconv.Itoa(q.status)]++
	if chunked {
		t.Chunked++
	}
	if gz {
		t.Gzip++
	}
	return b
}

func appendChunked(b, payload []byte, size int, r *rand.Rand) []byte {
	for len(payload) > 0 {
		n := size
		if n == 0 {
			n = 200 + r.IntN(8000)
		}
		n = min(n, len(payload))
		b = strconv.AppendInt(b, int64(n), 16)
		b = append(b, "\r\n"...)
		b = append(b, payload[:n]...)
		b = append(b, "\r\n"...)
		payload = payload[n:]
	}
	return append(b, "0\r\n\r\n"...)
}
