package trafficgen

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
	label     *label // the episode or heavy user this request belongs to, if any

	scratchReq, scratchResp jsonBuf // reused per-request buffers
}

// begin resets q for a new exchange, a 200 after 1–25 ms of server time
// unless the scenario says otherwise, and returns its emptied request and
// response body buffers.
func (q *request) begin(r *rand.Rand) (rb, wb jsonBuf) {
	q.body, q.ifNoneMatch, q.etag, q.location, q.setCookie = nil, "", "", "", ""
	q.resp = body{}
	q.headOnly = false
	q.label = nil
	q.proc = ms(r, 1, 25)
	q.status = 200
	q.requestID = uuidOf(r)
	return q.scratchReq[:0], q.scratchResp[:0]
}

// settle makes q's parts agree with its status: only a 200 carries a
// pooled body or an ETag, only a 2xx a Location. rb and wb are the request
// and response bodies the scenario wrote.
func (q *request) settle(rb, wb jsonBuf) {
	if q.status != 200 {
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

// errorBody replaces wb with the error document the API sends for status,
// and leaves it alone for a status that is no error.
func errorBody(wb jsonBuf, status int, requestID string) jsonBuf {
	switch status {
	case 401:
		return wb[:0].apiError("unauthorized", "Missing or invalid bearer token.", requestID)
	case 403:
		return wb[:0].apiError("forbidden", "You do not have access to this resource.", requestID)
	case 404:
		return wb[:0].apiError("not_found", "The requested resource does not exist.", requestID)
	case 500:
		return wb[:0].apiError("internal", "An unexpected error occurred.", requestID)
	}
	return wb
}

// loginAnswer appends a successful login's body, handing out token, and
// returns the session id the server also sets as a cookie.
func loginAnswer(wb jsonBuf, r *rand.Rand, token string) (jsonBuf, string) {
	wb = append(wb, '{')
	wb = wb.kstr("access_token", token).kstr("token_type", "Bearer").kint("expires_in", 3600)
	wb = append(wb.kstr("refresh_token", randToken(r, 40)), '}')
	return wb, randToken(r, 32)
}

func sessionCookie(session string) string {
	return "session=" + session + "; Path=/; HttpOnly; Secure; SameSite=Lax"
}

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
	if cl.apiKey != "" {
		b = append(b, "X-API-Key: "...)
		b = append(b, cl.apiKey...)
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
	r := c.r
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
