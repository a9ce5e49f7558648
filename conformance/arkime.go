package conformance

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Arkime expected_http_summary.json: one row per session (TCP connection)
// with the session's HTTP fields as Arkime indexes them. Arkime's arrays
// hold DISTINCT values per session (http-post-upload: 3 requests, method
// [GET POST], statuscode [200]), so they are compared as sets: every
// expected value must occur in some observed transaction of that
// connection (4-tuple, either orientation). Values apiwatch observed that
// Arkime does not list are reported in the detail but do not fail the check
// (Arkime stops parsing after e.g. an upgrade or a gap). One check per
// session; sessions without HTTP fields (TLS SNI only, QUIC, ...) and HTTP/2
// sessions (method PRI: apiwatch parses HTTP/1.x) are NotApplicable.
//
// Field mapping (Arkime → Transaction):
//
//	method      Method
//	host        Host, lowercased (Arkime lowercases); Arkime lists the Host
//	            value both with and without its port, so an expected value
//	            matches a Host equal to it or equal to it once the port is cut
//	path        Target's path without query (absolute-form: path part)
//	uri         lowercased Host + Target ("host/path?query"); when Arkime had
//	            no host, Target alone (e.g. "*", CONNECT authority)
//	statuscode  Status; interim 1xx codes (100, 102, 103: not 101) are not
//	            required, because apiwatch pairs a request with its final
//	            response and interim responses need not surface as transactions
//	useragent   UserAgent ("" = header present but empty, or absent)
//
// md5 is a second check per session ("arkime/md5"): Arkime hashes every
// non-empty HTTP body of the session, request and response, as transferred
// (after de-chunking, before content decoding: http-content-gzip's md5 is
// that of the gzip bytes; http-post-upload's includes the whole multipart
// POST body) — verified by hand on five captures. apiwatch reports the
// decoded body prefix, so a body's md5 is computable only when it carries
// no Content-Encoding and was captured whole (len(Body) == BodyLen). Every
// expected md5 must be the md5 of some observed body of the connection; an
// md5 not found while some body of the connection is not computable makes
// the check NotApplicable rather than failed.
//
// Not compared: bodyMagic, request/responseHeader name lists,
// client/serverVersion, tags.

type arkimeSession struct {
	SrcIP      string   `json:"src_ip"`
	SrcPort    int      `json:"src_port"`
	DstIP      string   `json:"dst_ip"`
	DstPort    int      `json:"dst_port"`
	Protocol   []string `json:"protocol"`
	Method     []string `json:"method"`
	Host       []string `json:"host"`
	Path       []string `json:"path"`
	URI        []string `json:"uri"`
	StatusCode []int    `json:"statuscode"`
	UserAgent  []string `json:"useragent"`
	MD5        []string `json:"md5"`
	HasUA      bool     `json:"-"`
}

func loadArkime(c *Case) error {
	b, err := os.ReadFile(filepath.Join(c.Dir, "expected_http_summary.json"))
	if err != nil {
		return err
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	for _, row := range rows {
		var s arkimeSession
		raw, _ := json.Marshal(row)
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		_, s.HasUA = row["useragent"]
		ch := buildArkimeCheck(s)
		c.Checks = append(c.Checks, ch)
		if ac, ok := ch.(*arkimeCheck); ok && len(s.MD5) > 0 {
			c.Checks = append(c.Checks, &arkimeMD5Check{ac})
		}
	}
	return nil
}

func buildArkimeCheck(s arkimeSession) Check {
	conn := fmt.Sprintf("%s:%d-%s:%d", s.SrcIP, s.SrcPort, s.DstIP, s.DstPort)
	ch := &arkimeCheck{s: s, conn: conn}
	desc := ch.Describe()
	switch {
	case !slices.Contains(s.Protocol, "http"):
		return naCheck{"arkime/session", desc, "non-HTTP session",
			fmt.Sprintf("Arkime classified the session as %v, not HTTP", s.Protocol)}
	case slices.Contains(s.Method, "PRI") || slices.Contains(s.Protocol, "http2"):
		return naCheck{"arkime/session", desc, "HTTP/2 session",
			"HTTP/2 session: Arkime's values mix HTTP/1.1 upgrade and HTTP/2 streams; apiwatch parses HTTP/1.x"}
	case len(s.Method)+len(s.Host)+len(s.Path)+len(s.URI)+len(s.StatusCode)+len(s.UserAgent) == 0 && !s.HasUA:
		return naCheck{"arkime/session", desc, "no HTTP fields", "Arkime recorded no HTTP fields for this session"}
	}
	a, ok1 := parseEndpoint(s.SrcIP, s.SrcPort)
	b, ok2 := parseEndpoint(s.DstIP, s.DstPort)
	if !ok1 || !ok2 {
		return naCheck{"arkime/session", desc, "unparseable endpoint", "session endpoints are not addresses"}
	}
	ch.a, ch.b = a, b
	return ch
}

type arkimeCheck struct {
	s    arkimeSession
	conn string
	a, b endpoint
}

func (c *arkimeCheck) Kind() string { return "arkime/session" }

func (c *arkimeCheck) Describe() string {
	var parts []string
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, name+"="+strings.Join(vals, "|"))
		}
	}
	add("method", c.s.Method)
	add("host", c.s.Host)
	add("path", c.s.Path)
	add("uri", c.s.URI)
	var st []string
	for _, n := range c.s.StatusCode {
		st = append(st, strconv.Itoa(n))
	}
	add("status", st)
	if c.s.HasUA {
		add("ua", quoteAll(c.s.UserAgent))
	}
	return "session " + c.conn + " {" + strings.Join(parts, " ") + "}"
}

func quoteAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strconv.Quote(s)
	}
	return out
}

func (c *arkimeCheck) Eval(obs []Transaction) Outcome {
	var txs []*Transaction
	for i := range obs {
		if obs[i].sameConn(c.a, c.b) {
			txs = append(txs, &obs[i])
		}
	}
	if len(txs) == 0 {
		return fail("no transactions observed on %s", c.conn)
	}
	var missing []string
	check := func(field string, want []string, get func(*Transaction) []string) {
		seen := map[string]bool{}
		var seenList []string
		for _, t := range txs {
			for _, v := range get(t) {
				if !seen[v] {
					seen[v] = true
					seenList = append(seenList, v)
				}
			}
		}
		for _, w := range want {
			if !seen[w] {
				missing = append(missing, fmt.Sprintf("%s %q not observed (saw %q)", field, w, seenList))
			}
		}
	}
	req := func(f func(*Transaction) []string) func(*Transaction) []string {
		return func(t *Transaction) []string {
			if !t.HasRequest {
				return nil
			}
			return f(t)
		}
	}
	check("method", c.s.Method, req(func(t *Transaction) []string { return []string{t.Method} }))
	var hosts []string
	for _, h := range c.s.Host {
		hosts = append(hosts, strings.ToLower(h))
	}
	check("host", hosts, req(func(t *Transaction) []string {
		h := strings.ToLower(strings.TrimSpace(t.Host))
		return []string{h, hostOnly(h)}
	}))
	check("path", c.s.Path, req(func(t *Transaction) []string {
		p := originForm(t.Target)
		if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		return []string{p}
	}))
	check("uri", c.s.URI, req(func(t *Transaction) []string {
		return []string{strings.ToLower(strings.TrimSpace(t.Host)) + t.Target, t.Target,
			strings.ToLower(strings.TrimSpace(t.Host)) + originForm(t.Target)}
	}))
	var st []string
	for _, n := range c.s.StatusCode {
		if n >= 100 && n < 200 && n != 101 {
			continue // interim response, see above
		}
		st = append(st, strconv.Itoa(n))
	}
	check("status", st, func(t *Transaction) []string {
		if !t.HasResponse {
			return nil
		}
		return []string{strconv.Itoa(t.Status)}
	})
	check("useragent", c.s.UserAgent, req(func(t *Transaction) []string { return []string{t.UserAgent} }))
	if len(missing) > 0 {
		return fail("%s", strings.Join(missing, "; "))
	}
	return pass("%d transactions on the connection carry every expected value", len(txs))
}

// arkimeMD5Check: see the md5 paragraph above.
type arkimeMD5Check struct{ s *arkimeCheck }

func (c *arkimeMD5Check) Kind() string { return "arkime/md5" }

func (c *arkimeMD5Check) Describe() string {
	return "session " + c.s.conn + " body md5 {" + strings.Join(c.s.s.MD5, "|") + "}"
}

// bodyMD5 returns the md5 of a body as transferred, ok=false when the
// Transaction does not carry those bytes.
func bodyMD5(body []byte, bodyLen int64, headers [][2]string) (string, bool) {
	if ce := strings.TrimSpace(headerValue(headers, "Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return "", false
	}
	if int64(len(body)) != bodyLen {
		return "", false
	}
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:]), true
}

func (c *arkimeMD5Check) Eval(obs []Transaction) Outcome {
	seen := map[string]bool{}
	unknown, txs := 0, 0
	for i := range obs {
		t := &obs[i]
		if !t.sameConn(c.s.a, c.s.b) {
			continue
		}
		txs++
		for _, b := range []struct {
			has  bool
			body []byte
			n    int64
			hs   [][2]string
		}{{t.HasRequest, t.RequestBody, t.RequestBodyLen, t.RequestHeaders}, {t.HasResponse, t.ResponseBody, t.ResponseBodyLen, t.ResponseHeaders}} {
			if !b.has || b.n == 0 {
				continue
			}
			if sum, ok := bodyMD5(b.body, b.n, b.hs); ok {
				seen[sum] = true
			} else {
				unknown++
			}
		}
	}
	if txs == 0 {
		return fail("no transactions observed on %s", c.s.conn)
	}
	var missing []string
	for _, m := range c.s.s.MD5 {
		if !seen[m] {
			missing = append(missing, m)
		}
	}
	switch {
	case len(missing) == 0:
		return pass("all %d body hashes observed", len(c.s.s.MD5))
	case unknown > 0:
		return notApplicable("%d of %d hashes not among the computable bodies; %d bodies are content-encoded or captured in part",
			len(missing), len(c.s.s.MD5), unknown)
	}
	return fail("body md5 %s not observed (%d bodies hashed)", strings.Join(missing, ","), len(seen))
}
