package parse

import (
	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/reassembly"
	"github.com/apiwatch/apiwatch/parse/tlshello"
)

// Config bounds the per-connection pairing state. The zero value is usable.
type Config struct {
	HTTP http1.Config
	// MaxPending caps the requests of one connection waiting for their
	// responses. Default 64: clients pipeline a handful at most, so a longer
	// queue means the responses are not being seen (one-sided capture) and
	// holding more would only cost memory.
	MaxPending int
	// MaxSpare caps the recycled connections and request/response records
	// kept per Tracker for reuse. Default 256. A recycled record keeps
	// buffers of at most spareBufMax bytes and a recycled connection's
	// parsers keep about as much, so idle memory stays a few MiB.
	MaxSpare int
	// PendingMemory caps the bytes of the copies of requests (and early
	// responses) waiting for their other half, over all connections of the
	// Tracker. Default 16 MiB. Beyond it a copy drops its body
	// (http1.FlagBodyNotKept), then its headers (http1.FlagHeadersCapped):
	// the transaction is still paired and counted.
	PendingMemory int64
}

// spareBufMax is the largest buffer a recycled record keeps.
const spareBufMax = 4 << 10

func (c Config) withDefaults() Config {
	if c.MaxPending <= 0 {
		c.MaxPending = 64
	}
	if c.MaxSpare <= 0 {
		c.MaxSpare = 256
	}
	if c.PendingMemory <= 0 {
		c.PendingMemory = 16 << 20
	}
	return c
}

// Tracker is the reassembly.Factory that gives every TCP connection a pair of
// HTTP parsers and pairs their messages into Transactions. Like the
// Assembler that drives it, a Tracker belongs to one worker goroutine.
type Tracker struct {
	cfg   Config
	out   Handler
	stats Stats

	freeConns    []*conn
	freeTx       []*pendingTx
	tx           Transaction // reused for every emitted transaction
	connIDs      uint64      // ConnState IDs handed out
	pendingBytes int64       // buffer bytes of the pending copies (PendingMemory)
	helloBytes   int         // bytes of incomplete ClientHellos held (helloMemory)
	hello        tlshello.Hello
	pool         *http1.Pool // body buffers and decoders of all the parsers
}

// NewTracker returns a Tracker that hands transactions to out. All its
// parsers share one http1.Pool of cfg.HTTP.BodyMemory bytes (unless
// cfg.HTTP.Pool is set), so body memory is bounded per Tracker, not per
// connection.
func NewTracker(cfg Config, out Handler) *Tracker {
	t := &Tracker{cfg: cfg.withDefaults(), out: out}
	if t.cfg.HTTP.Pool == nil {
		t.cfg.HTTP.Pool = http1.NewPool(t.cfg.HTTP.BodyMemory)
	}
	t.pool = t.cfg.HTTP.Pool
	return t
}

// MemStats reports the body memory of the Tracker's parsers and the bytes
// held by pending copies.
func (t *Tracker) MemStats() (body http1.PoolStats, pendingBytes int64) {
	return t.pool.Stats(), t.pendingBytes
}

// Stats returns the counters of this Tracker.
func (t *Tracker) Stats() Stats { return t.stats }

// New implements reassembly.Factory.
func (t *Tracker) New(flow capture.Flow, ts int64) reassembly.Conn {
	t.stats.Conns++
	var c *conn
	if n := len(t.freeConns); n > 0 {
		c = t.freeConns[n-1]
		t.freeConns = t.freeConns[:n-1]
	} else {
		c = &conn{t: t}
		for d := range c.sides {
			c.sides[d] = side{c: c, dir: reassembly.Direction(d)}
			c.sides[d].p.Init(&t.cfg.HTTP, &c.sides[d])
		}
	}
	c.flow = flow
	t.connIDs++
	c.state.ID = t.connIDs
	return c
}

// pendingTx is a request waiting for its response, or a response that
// arrived before its request completed.
type pendingTx struct {
	method     []byte // from the request head, for ResponseMethod
	reqDir     reassembly.Direction
	req, resp  http1.Message
	reqDone    bool
	respDone   bool
	interim    int
	overflowed bool
	bytes      int64 // buffer bytes of req and resp counted in pendingBytes
}

// keep copies m into dst (req or resp of p) within the Tracker's
// PendingMemory: over it the copy drops the body, then the headers.
func (t *Tracker) keep(p *pendingTx, m, dst *http1.Message) {
	before := dst.Footprint()
	body, hdrs := m.Body, m.Headers
	if t.pendingBytes+int64(m.CopySize()) > t.cfg.PendingMemory {
		m.Body = nil
		if t.pendingBytes+int64(m.CopySize()) > t.cfg.PendingMemory {
			m.Headers = nil
		}
	}
	m.CopyTo(dst)
	m.Body, m.Headers = body, hdrs
	if len(dst.Body) < len(body) {
		dst.Flags |= http1.FlagBodyNotKept
	}
	if len(dst.Headers) < len(hdrs) {
		dst.Flags |= http1.FlagHeadersCapped
	}
	d := int64(dst.Footprint() - before)
	p.bytes += d
	t.pendingBytes += d
}

func (t *Tracker) getPending() *pendingTx {
	if n := len(t.freeTx); n > 0 {
		p := t.freeTx[n-1]
		t.freeTx = t.freeTx[:n-1]
		return p
	}
	return &pendingTx{}
}

func (t *Tracker) putPending(p *pendingTx) {
	t.pendingBytes -= p.bytes
	p.bytes = 0
	if len(t.freeTx) >= t.cfg.MaxSpare {
		return
	}
	p.req.Shrink(spareBufMax)
	p.resp.Shrink(spareBufMax)
	p.method = p.method[:0]
	p.reqDone, p.respDone, p.interim, p.overflowed = false, false, 0, false
	t.freeTx = append(t.freeTx, p)
}

// conn pairs the messages of one TCP connection, in order: HTTP/1.x answers
// requests in the order they were sent, pipelined or not.
type conn struct {
	t       *Tracker
	flow    capture.Flow
	state   ConnState
	sides   [2]side
	pending []*pendingTx // oldest first

	// The search for a TLS ClientHello (tls.go).
	hello      helloState
	helloDir   reassembly.Direction
	helloStart int64
	helloBuf   []byte
}

// side is one direction's parser and the Handler it reports to.
type side struct {
	c   *conn
	dir reassembly.Direction
	p   http1.Parser
}

func (c *conn) Data(dir reassembly.Direction, data []byte, ts int64) {
	if c.hello != helloDone {
		c.tlsHello(dir, data, ts)
	}
	c.sides[dir].p.Feed(data, ts)
}

func (c *conn) Gap(dir reassembly.Direction, n int, ts int64) {
	c.t.stats.GapEvents++
	if c.hello == helloCollecting && dir == c.helloDir {
		c.t.stats.TLSUnparsed++ // a ClientHello with a hole cannot be read
		c.endHello()
	} else if c.hello == helloUndecided {
		c.hello = helloDone
	}
	c.sides[dir].p.Gap(n, ts)
}

func (c *conn) Close(reason reassembly.CloseReason, ts int64) {
	// Close the request side first, so that a request completed by the end
	// of its stream is queued before a response completed the same way.
	first := reassembly.ClientToServer
	if c.sides[reassembly.ServerToClient].p.Kind() == http1.KindRequest {
		first = reassembly.ServerToClient
	}
	c.sides[first].p.Close(ts)
	c.sides[first.Reverse()].p.Close(ts)
	for len(c.pending) > 0 {
		c.emitFront()
	}
	c.t.stats.countKinds(c.sides[0].p.Kind(), c.sides[1].p.Kind())
	if c.hello == helloCollecting {
		c.t.stats.TLSUnparsed++ // the connection ended inside its ClientHello
	}
	c.endHello()
	c.hello = helloUndecided

	for d := range c.sides {
		c.sides[d].p.Reset()
	}
	c.pending = c.pending[:0]
	if len(c.t.freeConns) < c.t.cfg.MaxSpare {
		c.t.freeConns = append(c.t.freeConns, c)
	}
}

// RequestHead implements http1.Handler: it queues the request so the
// response that answers it can be framed by its method.
func (s *side) RequestHead(m *http1.Message) {
	c := s.c
	if len(c.pending) >= c.t.cfg.MaxPending {
		c.pending[0].overflowed = true
		c.emitFront()
	}
	p := c.t.getPending()
	p.method = append(p.method[:0], m.Method...)
	p.reqDir = s.dir
	c.pending = append(c.pending, p)
}

// ResponseMethod implements http1.Handler.
func (s *side) ResponseMethod() []byte {
	if p := s.c.firstUnanswered(); p != nil {
		return p.method
	}
	return nil
}

// Message implements http1.Handler.
func (s *side) Message(m *http1.Message) {
	c := s.c
	st := &c.t.stats
	if m.IsRequest {
		st.Requests++
		p := c.firstIncompleteRequest()
		if p == nil {
			// A request the parser could not report a head for (HTTP/0.9,
			// or one cut short before its headers ended).
			p = c.t.getPending()
			p.method = append(p.method[:0], m.Method...)
			p.reqDir = s.dir
			c.pending = append(c.pending, p)
		}
		c.t.keep(p, m, &p.req)
		p.reqDone = true
		c.emitReady()
		return
	}

	st.Responses++
	p := c.firstUnanswered()
	if m.Flags&http1.FlagInterim != 0 {
		st.Interim++
		if p != nil {
			p.interim++
		}
		return
	}
	if p == nil {
		c.emit(nil, m, 0, TxNoRequest, s.dir.Reverse())
		return
	}
	p.respDone = true
	if p == c.pending[0] && p.reqDone {
		// The usual case: emit with the parser's message, no copy.
		c.emitFrontWith(m)
		c.emitReady()
		return
	}
	c.t.keep(p, m, &p.resp)
	c.emitReady()
}

func (c *conn) firstUnanswered() *pendingTx {
	for _, p := range c.pending {
		if !p.respDone {
			return p
		}
	}
	return nil
}

func (c *conn) firstIncompleteRequest() *pendingTx {
	for _, p := range c.pending {
		if !p.reqDone {
			return p
		}
	}
	return nil
}

// emitReady reports the complete transactions at the front of the queue.
func (c *conn) emitReady() {
	for len(c.pending) > 0 && c.pending[0].reqDone && c.pending[0].respDone {
		c.emitFront()
	}
}

// emitFront reports the oldest pending transaction however complete it is.
func (c *conn) emitFront() { c.emitFrontWith(nil) }

// emitFrontWith is emitFront with the response given by the parser rather
// than copied into the record.
func (c *conn) emitFrontWith(respMsg *http1.Message) {
	p := c.pending[0]
	copy(c.pending, c.pending[1:])
	c.pending[len(c.pending)-1] = nil
	c.pending = c.pending[:len(c.pending)-1]

	var req, resp *http1.Message
	var flags TxFlags
	if p.reqDone {
		req = &p.req
	}
	if p.respDone {
		resp = &p.resp
		if respMsg != nil {
			resp = respMsg
		}
	} else {
		flags |= TxUnanswered
	}
	if p.overflowed {
		flags |= TxQueueOverflow
	}
	if req == nil && resp != nil {
		flags |= TxNoRequest
	}
	if req != nil || resp != nil {
		c.emit(req, resp, p.interim, flags, p.reqDir)
	}
	c.t.putPending(p)
}

func (c *conn) emit(req, resp *http1.Message, interim int, flags TxFlags, reqDir reassembly.Direction) {
	t := &c.t.tx
	t.Flow = c.flow
	if reqDir == reassembly.ServerToClient {
		t.Flow = c.flow.Reverse()
	}
	t.Request, t.Response, t.Interim, t.Flags, t.Conn = req, resp, interim, flags, &c.state
	c.t.stats.count(t)
	c.t.out.Transaction(t)
	*t = Transaction{}
}
