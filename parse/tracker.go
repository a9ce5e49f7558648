package parse

import (
	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// Config bounds the per-connection pairing state. The zero value is usable.
type Config struct {
	HTTP http1.Config
	// MaxPending caps the requests of one connection waiting for their
	// responses. Default 64: clients pipeline a handful at most, so a longer
	// queue means the responses are not being seen (one-sided capture) and
	// holding more would only cost memory.
	MaxPending int
	// MaxSpare caps the recycled request/response records kept per Tracker
	// for reuse. Default 1024. Each can hold up to a header block plus
	// HTTP.BodyKeep bytes, so this bounds idle memory.
	MaxSpare int
}

func (c Config) withDefaults() Config {
	if c.MaxPending <= 0 {
		c.MaxPending = 64
	}
	if c.MaxSpare <= 0 {
		c.MaxSpare = 1024
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

	freeConns []*conn
	freeTx    []*pendingTx
	tx        Transaction // reused for every emitted transaction
}

// NewTracker returns a Tracker that hands transactions to out.
func NewTracker(cfg Config, out Handler) *Tracker {
	return &Tracker{cfg: cfg.withDefaults(), out: out}
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
	if len(t.freeTx) >= t.cfg.MaxSpare {
		return
	}
	p.method = p.method[:0]
	p.reqDone, p.respDone, p.interim, p.overflowed = false, false, 0, false
	t.freeTx = append(t.freeTx, p)
}

// conn pairs the messages of one TCP connection, in order: HTTP/1.x answers
// requests in the order they were sent, pipelined or not.
type conn struct {
	t       *Tracker
	flow    capture.Flow
	sides   [2]side
	pending []*pendingTx // oldest first
}

// side is one direction's parser and the Handler it reports to.
type side struct {
	c   *conn
	dir reassembly.Direction
	p   http1.Parser
}

func (c *conn) Data(dir reassembly.Direction, data []byte, ts int64) {
	c.sides[dir].p.Feed(data, ts)
}

func (c *conn) Gap(dir reassembly.Direction, n int, ts int64) {
	c.t.stats.GapEvents++
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

	for d := range c.sides {
		c.sides[d].p.Reset()
	}
	c.pending = c.pending[:0]
	c.t.freeConns = append(c.t.freeConns, c)
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
		m.CopyTo(&p.req)
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
	m.CopyTo(&p.resp)
	p.respDone = true
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
func (c *conn) emitFront() {
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
	t.Request, t.Response, t.Interim, t.Flags = req, resp, interim, flags
	c.t.stats.count(t)
	c.t.out.Transaction(t)
	*t = Transaction{}
}
