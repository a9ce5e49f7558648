// Package normalize turns HTTP transactions (and TLS ClientHellos) into API
// events: the endpoint template, who is calling, what was touched, what
// the response revealed, and what never leaves the sensor — credentials,
// bodies and PII become keyed hashes, shapes and counts.
//
// A Normalizer belongs to one worker goroutine; the events it produces are
// reused: valid only until its next call.
package normalize

import (
	"bytes"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/content"
	"github.com/apiwatch/apiwatch/parse/endpoint"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/identity"
)

// Config configures normalization. The zero value is usable.
type Config struct {
	// SensorID names the sensor in every event.
	SensorID string
	// Endpoint configures template inference.
	Endpoint endpoint.Config
	// Spec, when set, holds the imported OpenAPI specs: their templates win
	// over inference and endpoints they lack are marked shadow. Shared,
	// read-only, by all Normalizers.
	Spec *endpoint.Spec
	// Content bounds the analysis of bodies.
	Content content.Config
	// AnalyzeFirst and AnalyzeEvery sample response bodies per endpoint:
	// all of the first AnalyzeFirst, then 1 in AnalyzeEvery, plus any larger
	// than before or of a new status class (sample.go). AnalyzeEvery 1
	// analyses every body.
	AnalyzeFirst, AnalyzeEvery int
	// OnPanic, when set, makes Event recover from a panic while building an
	// event: a bug that some traffic reaches then costs that transaction
	// its event (Event returns nil), not the sensor. It is called with what
	// was recovered and the stack. Nil lets the panic go on, as tests want:
	// a bug there should fail loudly.
	OnPanic func(recovered any, stack []byte)
	// Identity resolves client addresses, actors, object ids and logins.
	// Share one among all Normalizers of a process: its key must be the same
	// for every worker. When nil, New makes one with a random key (tests).
	Identity *identity.Resolver
}

// Normalizer builds events. Not safe for concurrent use: one per worker.
type Normalizer struct {
	cfg      Config
	templ    *endpoint.Templater
	id       *identity.Resolver
	an       *content.Analyzer
	shape    content.Shape
	counts   content.Counts
	intern   interner
	cache    actorCache
	loose    connMemo    // for transactions without a connection
	sample   sampler     // response bodies
	reqs     sampler     // request bodies
	p        *eventParts // of the event being built
	mediaBuf []byte
	key      []byte
	params   []endpoint.Param
	rawQuery string // the request's query, for objectIDs
	ids      []identity.Param
	objs     []identity.ObjectID
	query    []byte
}

// New returns a Normalizer.
func New(cfg Config) *Normalizer {
	n := &Normalizer{cfg: cfg, p: new(eventParts), templ: endpoint.New(cfg.Endpoint, cfg.Spec), id: cfg.Identity, an: content.NewAnalyzer(cfg.Content),
		sample: newSampler(cfg.AnalyzeFirst, cfg.AnalyzeEvery), reqs: newSampler(cfg.AnalyzeFirst, cfg.AnalyzeEvery)}
	if n.id == nil {
		n.id = identity.New(identity.Config{})
	}
	return n
}

// Event returns the event of one transaction, valid until the next call
// (or Keep); nil when building it panicked and Config.OnPanic recovered.
func (n *Normalizer) Event(t *parse.Transaction) *event.APIEvent {
	if n.cfg.OnPanic != nil {
		return n.guardedEvent(t)
	}
	return n.event(t)
}

func (n *Normalizer) guardedEvent(t *parse.Transaction) (e *event.APIEvent) {
	defer func() {
		if v := recover(); v != nil {
			n.cfg.OnPanic(v, debug.Stack())
			e = nil
		}
	}()
	return n.event(t)
}

func (n *Normalizer) event(t *parse.Transaction) *event.APIEvent {
	e := &n.p.ev
	e.Reset()
	event.Stamp(e)
	e.Kind = event.Kind_KIND_HTTP
	e.SensorId = n.cfg.SensorID
	memo := n.memo(t)
	e.Flow = n.flowOf(t, memo)
	client := t.Flow.SrcIP
	if t.Request != nil {
		client = n.id.ClientIP(t.Request, client)
	}
	e.ClientIp = e.Flow.SrcIp
	if client != t.Flow.SrcIP {
		e.ClientIp = n.intern.addr(client)
	}
	if t.TLS != nil {
		e.Kind = event.Kind_KIND_TLS
		e.RequestStartNs = t.TLSStart
		e.Tls = &event.TLS{Sni: text(t.TLS.SNI[:min(len(t.TLS.SNI), maxSNI)]), Alpn: texts(append([]string(nil), t.TLS.ALPN...)), Ja4: t.TLS.JA4, Version: uint32(t.TLS.Version)}
		return e
	}

	req, resp := t.Request, t.Response
	switch {
	case req != nil:
		e.RequestStartNs = req.Start
	case resp != nil:
		e.RequestStartNs = resp.Start
	}
	if resp != nil {
		e.ResponseEndNs = resp.End
		if req != nil {
			e.LatencyNs = resp.End - req.Start
		}
	}
	if req != nil {
		e.Request = n.request(req, memo)
		a := n.caller(req, client, memo)
		n.p.actor.Reset()
		n.p.actor.Id, n.p.actor.Kind, n.p.actor.Issuer = a.ID, actorKinds[a.Kind], a.Issuer
		e.Actor = &n.p.actor
		e.ObjectIds = n.objectIDs()
		if l := n.id.Login(req, resp, ""); l.IsLogin {
			n.p.login.Reset()
			n.p.login.UsernameHash, n.p.login.Outcome, n.p.login.Method = l.UsernameHash, outcomes[l.Outcome], l.Method
			e.Login = &n.p.login
		}
	}
	if resp != nil {
		endpoint := ""
		if e.Request != nil {
			endpoint = e.Request.Endpoint
		}
		// A login's caller has no credentials yet: its response is no leak.
		anonymous := (e.Actor == nil || e.Actor.Kind == event.ActorKind_ACTOR_KIND_CLIENT_IP) && e.Login == nil
		e.Response = n.response(resp, endpoint, anonymous, memo)
	}
	e.Quality = quality(t, e.Quality)
	return e
}

func (n *Normalizer) flowOf(t *parse.Transaction, memo *connMemo) *event.Flow {
	f := &n.p.flow
	f.Reset()
	if !memo.flowOK || memo.src != t.Flow.SrcIP || memo.dst != t.Flow.DstIP {
		memo.src, memo.dst = t.Flow.SrcIP, t.Flow.DstIP
		memo.srcS, memo.dstS = n.intern.addr(t.Flow.SrcIP), n.intern.addr(t.Flow.DstIP)
		memo.flowOK = true
	}
	f.SrcIp, f.DstIp = memo.srcS, memo.dstS
	f.SrcPort, f.DstPort, f.Vni = uint32(t.Flow.SrcPort), uint32(t.Flow.DstPort), t.Flow.VNI
	if t.Flow.VLAN != [2]uint16{} {
		n.p.vlan = [2]uint32{uint32(t.Flow.VLAN[0]), uint32(t.Flow.VLAN[1])}
		f.Vlan = n.p.vlan[:]
	}
	return f
}

// maxSNI caps the server name kept: a DNS name is at most 253 bytes, and
// the raw extension can carry kilobytes of anything.
const maxSNI = 255

// maxUserAgent caps the User-Agent kept: enough to tell clients apart,
// not a channel for whatever an attacker stuffs into headers.
const maxUserAgent = 256

func (n *Normalizer) request(m *http1.Message, memo *connMemo) *event.Request {
	r := &n.p.req
	r.Reset()
	r.Method = n.method(m.Method)
	r.Host = n.host(m, &memo.host)
	r.BodyBytes = m.DecodedLen
	r.ContentType = n.mediaType(m.Header("Content-Type"), &memo.reqCT)
	ua := m.Header("User-Agent")
	ua = ua[:min(len(ua), maxUserAgent)]
	var key uint64
	var ok bool
	if r.UserAgent, key, ok = memo.ua.get(ua); !ok {
		r.UserAgent = memo.ua.set(key, n.intern.bytes(ua))
	}
	path, query, _ := strings.Cut(string(m.Target), "?")
	n.rawQuery = query
	path = endpoint.OriginPath(path)
	var shadow bool
	r.Template, n.params, shadow = n.templ.Template(r.Method, r.Host, path, n.params[:0])
	n.key = append(append(append(append(append(n.key[:0], r.Method...), ' '), r.Host...), ' '), r.Template...)
	r.Endpoint = n.intern.bytes(n.key)
	r.Template = text(r.Template)
	r.Shadow = shadow
	r.FromSpec = n.cfg.Spec != nil && !shadow
	r.Path = text(maskPath(path, n.params))
	if len(m.Body) > 0 {
		r.BodyParams = texts(n.an.ParamNames(m.Body, r.ContentType, nil))
		if n.reqs.analyze(r.Endpoint, m.DecodedLen, 0) {
			n.analyze(m, r.ContentType)
			r.Sensitive = sensitive(&n.counts)
		}
	}
	if query != "" {
		r.QueryParams = texts(queryNames(query, nil))
		n.query = append(append(n.query[:0], r.Path...), '?')
		n.query = identity.RedactQuery(query, n.query)
		r.Path = text(string(n.query))
	}
	return r
}

// objectIDs lists what the request touched: the template's parameters and
// ID-like query parameters (of the query request kept); numbers kept as
// numbers, the rest hashed.
func (n *Normalizer) objectIDs() []*event.ObjectID {
	n.ids = n.ids[:0]
	for _, p := range n.params {
		n.ids = append(n.ids, identity.Param{Name: p.Name, Value: p.Value, Numeric: p.Type == endpoint.TypeInt})
	}
	n.objs = n.id.ObjectIDs(n.ids, n.rawQuery, n.objs[:0])
	if len(n.objs) == 0 {
		return nil
	}
	// The messages are reused from event to event, like the event itself.
	k := len(n.objs)
	n.p.objIDs = slices.Grow(n.p.objIDs[:0], k)[:k]
	n.p.nums = slices.Grow(n.p.nums[:0], k)[:k]
	n.p.hashes = slices.Grow(n.p.hashes[:0], k)[:k]
	n.p.objPtrs = n.p.objPtrs[:0]
	for i, o := range n.objs {
		id := &n.p.objIDs[i]
		id.Reset()
		id.Param = text(o.Param)
		if o.IsNumber {
			n.p.nums[i].Number = o.Number
			id.Value = &n.p.nums[i]
		} else {
			n.p.hashes[i].Hash = o.Hash
			id.Value = &n.p.hashes[i]
		}
		n.p.objPtrs = append(n.p.objPtrs, id)
	}
	return n.p.objPtrs
}

var actorKinds = [...]event.ActorKind{
	identity.KindJWT:           event.ActorKind_ACTOR_KIND_JWT,
	identity.KindBearer:        event.ActorKind_ACTOR_KIND_BEARER,
	identity.KindAPIKey:        event.ActorKind_ACTOR_KIND_API_KEY,
	identity.KindBasic:         event.ActorKind_ACTOR_KIND_BASIC,
	identity.KindSessionCookie: event.ActorKind_ACTOR_KIND_SESSION_COOKIE,
	identity.KindClientIP:      event.ActorKind_ACTOR_KIND_CLIENT_IP,
}

var outcomes = [...]event.LoginOutcome{
	identity.OutcomeUnknown: event.LoginOutcome_LOGIN_OUTCOME_UNKNOWN,
	identity.OutcomeSuccess: event.LoginOutcome_LOGIN_OUTCOME_SUCCESS,
	identity.OutcomeFailure: event.LoginOutcome_LOGIN_OUTCOME_FAILURE,
}

// maskPath replaces the values of path parameters that can be personal or
// secret — emails, opaque tokens (reset links, magic links) — by "*".
// Numbers, UUIDs and hashes stay: they identify objects, not people, and
// detectors see them in object_ids anyway.
func maskPath(path string, params []endpoint.Param) string {
	for _, p := range params {
		if (p.Type == endpoint.TypeEmail || p.Type == endpoint.TypeToken) && p.Value != "" {
			path = strings.ReplaceAll(path, p.Value, "*")
			// The segment may be sent percent-encoded (alice%40example.com).
			for _, esc := range []string{url.PathEscape(p.Value), strings.ReplaceAll(url.PathEscape(p.Value), "@", "%40")} {
				path = strings.ReplaceAll(path, esc, "*")
			}
		}
	}
	return path
}

// queryNames returns the parameter names of a raw query, in order, once
// each, percent-decoded.
func queryNames(query string, dst []string) []string {
	for part := range strings.SplitSeq(query, "&") {
		name, _, _ := strings.Cut(part, "=")
		if name == "" {
			continue
		}
		if u, err := url.QueryUnescape(name); err == nil {
			name = u
		}
		if !slices.Contains(dst, name) {
			dst = append(dst, name)
		}
	}
	return dst
}

// caller returns the actor of req (sent from client): per connection, then
// per Authorization value across connections, else resolved.
func (n *Normalizer) caller(req *http1.Message, client netip.Addr, memo *connMemo) identity.Actor {
	resolve := func() identity.Actor {
		if a := n.id.Actor(req, netip.Addr{}); a.Kind != identity.KindNone {
			return a
		}
		return n.addressActor(client, memo)
	}
	auth := req.Header("Authorization")
	if len(auth) == 0 {
		return resolve()
	}
	key := n.cache.key(auth)
	if memo.hasActor && memo.authKey == key {
		return memo.actor
	}
	a := n.cache.actor(key, resolve)
	if a.FromAuthorization {
		memo.authKey, memo.actor, memo.hasActor = key, a, true
	}
	return a
}

// addressActor is the actor of a caller without credentials, known by its
// address alone: kept per connection, so that the requests of a keep-alive
// connection do not key the same address's hash (an HMAC) one by one.
func (n *Normalizer) addressActor(client netip.Addr, memo *connMemo) identity.Actor {
	if !memo.hasAddrActor || memo.addrActorOf != client {
		memo.addrActor, memo.addrActorOf, memo.hasAddrActor = n.id.Actor(nil, client), client, true
	}
	return memo.addrActor
}

// response builds the response part. Its body is analysed when the sampler
// says so, and always when it succeeded for a caller without credentials
// (other than a login): sensitive data served to anonymous callers is a
// finding of its own, and such responses are rare.
func (n *Normalizer) response(m *http1.Message, endpoint string, anonymous bool, memo *connMemo) *event.Response {
	r := &n.p.resp
	r.Reset()
	r.Status = uint32(m.Status)
	r.BodyBytes, r.WireBytes = m.DecodedLen, m.WireBodyLen
	r.ContentType = n.mediaType(m.Header("Content-Type"), &memo.respCT)
	r.SetsCookie = m.Header("Set-Cookie") != nil
	if len(m.Body) == 0 {
		return r
	}
	// The sampler counts every body, also those analysed for the caller.
	if sampled := n.sample.analyze(endpoint, m.DecodedLen, m.Status); sampled || anonymous && m.Status/100 == 2 {
		r.BodyAnalyzed = true
		n.analyze(m, r.ContentType)
		sh := &n.p.shape
		sh.Reset()
		sh.FieldPaths = slices.Clone(n.shape.Fields)
		sh.Records, sh.Truncated, sh.Format = n.shape.Records, n.shape.Truncated, n.shape.Format
		r.Shape = sh
		r.Sensitive = sensitive(&n.counts)
	}
	return r
}

// analyze fills n.shape and n.counts from the kept body prefix of m, of
// media type ct.
func (n *Normalizer) analyze(m *http1.Message, ct string) {
	truncated := int64(len(m.Body)) < m.DecodedLen || m.Flags&(http1.FlagTruncated|http1.FlagBodyCapped|http1.FlagBodyNotKept) != 0
	n.counts = content.Counts{}
	n.an.Analyze(m.Body, ct, truncated, &n.shape, &n.counts)
}

// sensitive lists the classes found, in the proto's order (which is
// content.Class order plus one: the proto reserves 0 for unspecified).
func sensitive(c *content.Counts) []*event.SensitiveCount {
	var out []*event.SensitiveCount
	for class, n := range c {
		if n > 0 {
			out = append(out, &event.SensitiveCount{Class: event.SensitiveClass(class + 1), Count: n})
		}
	}
	return out
}

// method returns the request method as a string; the common ones without
// a lookup.
func (n *Normalizer) method(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return n.intern.bytes(b)
}

// host is the request's Host header, or the authority of an absolute-form
// target, lower-cased, without a default port: "api.example.com:80" is the
// same endpoint as "api.example.com" (clients such as hydra send the port).
func (n *Normalizer) host(m *http1.Message, memo *memoText) string {
	h := m.Header("Host")
	if len(h) == 0 {
		if _, rest, ok := bytes.Cut(m.Target, []byte("://")); ok {
			h, _, _ = bytes.Cut(rest, []byte("/"))
		}
	}
	s, key, ok := memo.get(h)
	if !ok {
		t := bytes.TrimSpace(h)
		for _, port := range [...]string{":80", ":443"} {
			t = bytes.TrimSuffix(t, []byte(port))
		}
		s = memo.set(key, n.lower(t))
	}
	return s
}

// mediaType is the media type of a Content-Type value without parameters,
// lower-cased: "Application/JSON; charset=utf-8" is "application/json".
func (n *Normalizer) mediaType(v []byte, memo *memoText) string {
	s, key, ok := memo.get(v)
	if !ok {
		t, _, _ := bytes.Cut(v, []byte(";"))
		s = memo.set(key, n.lower(bytes.TrimSpace(t)))
	}
	return s
}

// lower returns b lower-cased (ASCII), interned.
func (n *Normalizer) lower(b []byte) string {
	n.mediaBuf = n.mediaBuf[:0]
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		n.mediaBuf = append(n.mediaBuf, c)
	}
	return n.intern.bytes(n.mediaBuf)
}

func quality(t *parse.Transaction, q []event.Quality) []event.Quality {
	f := t.MessageFlags()
	for _, m := range [...]struct {
		flag http1.Flags
		q    event.Quality
	}{
		{http1.FlagGap, event.Quality_QUALITY_GAP},
		{http1.FlagTruncated | http1.FlagBodyCapped | http1.FlagBodyNotKept, event.Quality_QUALITY_TRUNCATED},
		{http1.FlagParseError, event.Quality_QUALITY_PARSE_ERROR},
		{http1.FlagSmuggling, event.Quality_QUALITY_SMUGGLING},
		{http1.FlagDecodeError, event.Quality_QUALITY_DECODE_ERROR},
		{http1.FlagHTTP09, event.Quality_QUALITY_HTTP09},
	} {
		if f&m.flag != 0 {
			q = append(q, m.q)
		}
	}
	if t.Flags&parse.TxUnanswered != 0 {
		q = append(q, event.Quality_QUALITY_UNANSWERED)
	}
	if t.Flags&parse.TxNoRequest != 0 {
		q = append(q, event.Quality_QUALITY_NO_REQUEST)
	}
	return q
}
