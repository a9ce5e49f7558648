package http1

import "bytes"

// Defaults for the zero Config, and the parser's own fixed bounds.
const (
	defaultMaxHeaderBytes  = 64 << 10
	defaultMaxHeaders      = 128
	defaultBodyKeep        = 64 << 10
	defaultMaxDecodedBytes = 1 << 20
	defaultMaxDecodeRatio  = 100

	// detectBound is how many bytes a stream may show without a recognisable
	// start line before it is declared not HTTP: midstream pickups find a
	// message start well within a few KiB of typical API traffic.
	detectBound = 4 << 10
	// encodedKeepMin is the least encoded body buffered for decoding at the
	// message end; the buffer is max(BodyKeep, encodedKeepMin). 256 KiB of
	// gzip covers the decode cap of typical JSON several times over.
	encodedKeepMin = 256 << 10
	// maxLineBytes caps a chunk-size line and a resync candidate line: chunk
	// extensions and start lines longer than this are garbage in practice.
	maxLineBytes = 8 << 10
	// maxStuck bounds steps that consume nothing; it is a safety net that
	// turns a state-machine bug into a counted parse error, never a hang.
	maxStuck = 16
)

func (c *Config) applyDefaults() {
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if c.MaxHeaders <= 0 {
		c.MaxHeaders = defaultMaxHeaders
	}
	if c.BodyKeep <= 0 {
		c.BodyKeep = defaultBodyKeep
	}
	if c.MaxDecodedBytes <= 0 {
		c.MaxDecodedBytes = defaultMaxDecodedBytes
	}
	if c.MaxDecodeRatio <= 0 {
		c.MaxDecodeRatio = defaultMaxDecodeRatio
	}
}

// Stats counts what a Parser met since its last Reset, so that nothing it
// drops goes unnoticed.
type Stats struct {
	Messages      uint64 // messages reported to the Handler
	ParseErrors   uint64 // malformed start lines, headers, lengths or chunk framing
	HeadersCapped uint64 // header blocks over MaxHeaderBytes or with more than MaxHeaders fields
	Gaps          uint64 // Gap calls
	Resyncs       uint64 // times sync was lost and the stream scanned for a message start
	SkippedBytes  uint64 // bytes discarded while scanning for a message start
	BadHeaders    uint64 // header lines without a colon, skipped
	BodyNotKept   uint64 // messages whose body (or a head over 4 KiB) the memory budget did not let keep
}

type state uint8

const (
	stStart        state = iota // at a message boundary: blank lines, then the start line
	stHead                      // in the header block
	stBodyLen                   // Content-Length body, remain bytes left
	stPeekBody                  // 1xx/204/304 with framing headers: does a status line follow?
	stChunkSize                 // reading a chunk-size line
	stChunkData                 // in chunk data, remain bytes left
	stChunkDataEnd              // expecting the CRLF after chunk data
	stTrailer                   // trailer fields after the last chunk
	stBodyClose                 // body runs to the end of the stream
	stResync                    // at a line start, looking for a strict start line
	stDetect                    // kind unknown: looking for a strict start line anywhere in a line
	stSkipLine                  // discarding up to the next LF, then stResync
	stDone                      // not HTTP, tunnel or closed: everything is ignored
)

// Parser parses one direction of an HTTP/1.x connection. The zero value is
// not ready: call Init. A Parser is not safe for concurrent use.
type Parser struct {
	cfg Config
	h   Handler

	kind   Kind
	st     state
	ts     int64 // ts of the Feed in progress
	judged bool  // the stream's first line was judged: no HTTP/0.9 response guess any more
	stuck  int

	msg        Message
	inMsg      bool   // a byte of msg was consumed
	head       []byte // start line and header block of msg; msg's views point here
	headBuf    []byte // the small head buffer kept between messages (cap <= headKeep)
	headPooled bool   // head is a Pool buffer (a head over headKeep)
	lineStart  int    // offset in head of the line being read
	wordLen    int    // bytes of the start line's first word checked so far
	wordDone   bool   // the first word is complete
	extra      [8]Header
	nextra     int // framing headers kept beyond MaxHeaders
	body       []byte
	bodyCap    bool // body was cut at BodyKeep or the encoded buffer at its cap

	codings     [maxLayers]coding
	ncodings    int
	decoding    bool
	undecodable bool
	enc         []byte // encoded body buffered for decoding at the message end
	encStop     bool   // a gap or the cap ended buffering: decode the prefix only

	remain     int64
	line       []byte // chunk-size line or resync candidate
	lineTs     int64  // ts of the first byte of a resync candidate in line
	trail      int    // trailer bytes so far
	trailLen   int    // bytes of the current trailer line before its LF
	trailFirst byte   // first byte of the current trailer line

	peekFraming framing // framing of a 1xx/204/304 awaiting stepPeek
	sawCR       bool
	peek        [5]byte
	npeek       int

	method     []byte // method of the request the response answers
	interim    bool   // the last response was 1xx: the next answers the same request
	upgradeReq bool   // the last request was CONNECT or asked for an Upgrade: bytes that are no request line are a tunnel
	switched   bool   // a CONNECT was accepted or a 101 sent: bytes that are no status line are a tunnel

	cand09     bool  // the bytes under detection (in line) may be an HTTP/0.9 response body
	detOff     int   // offset in line of the line under detection
	detTs      int64 // ts of the first byte under detection
	v09Pending bool  // a request line without version ended the bytes at hand: 0.9 unless header lines follow
	headSent   bool  // RequestHead was called for msg

	pool  *Pool
	stats Stats
}

// NewParser returns a Parser ready to Feed.
func NewParser(cfg *Config, h Handler) *Parser {
	p := &Parser{}
	p.Init(cfg, h)
	return p
}

// Init readies p for a new stream reporting to h. A nil cfg takes defaults.
func (p *Parser) Init(cfg *Config, h Handler) {
	p.h = h
	p.cfg = Config{}
	if cfg != nil {
		p.cfg = *cfg
	}
	p.cfg.applyDefaults()
	p.pool = p.cfg.Pool
	if p.pool == nil {
		p.pool = NewPool(p.cfg.BodyMemory)
	}
	p.cfg.Pool = nil // p.pool is the one used
	p.Reset()
}

// Reset makes p as good as new for another stream with the same Config and
// Handler. It gives its body buffers back to the Pool and keeps only small
// buffers (at most headKeep bytes each), so a pooled Parser holds almost
// nothing.
func (p *Parser) Reset() {
	p.releaseBuffers()
	line := p.line[:0]
	if cap(line) > headKeep {
		line = nil
	}
	*p = Parser{
		cfg:     p.cfg,
		h:       p.h,
		pool:    p.pool,
		head:    p.headBuf[:0],
		headBuf: p.headBuf[:0],
		line:    line,
		method:  p.method[:0],
		msg:     Message{Headers: p.msg.Headers[:0]},
	}
	p.newMessage()
}

// releaseBuffers gives the body buffers and a large head buffer back to the
// Pool: between messages a Parser keeps only small buffers.
func (p *Parser) releaseBuffers() {
	if cap(p.body) > 0 {
		p.pool.put(p.body)
		p.body = nil
	}
	if cap(p.enc) > 0 {
		p.pool.put(p.enc)
		p.enc = nil
	}
	if p.headPooled {
		p.pool.put(p.head)
		p.headPooled = false
	} else if cap(p.head) <= headKeep {
		p.headBuf = p.head
	}
	p.head = p.headBuf[:0]
	if cap(p.line) > headKeep && len(p.line) == 0 {
		p.line = nil
	}
	if cap(p.msg.Headers) > maxKeptHeaders {
		p.msg.Headers = nil
	}
}

// headFits makes room for n more bytes of head: false when the head would
// pass MaxHeaderBytes or the Pool cannot lend a buffer for a head over
// headKeep.
func (p *Parser) headFits(n int) bool {
	want := len(p.head) + n
	switch {
	case want > p.cfg.MaxHeaderBytes:
		return false
	case want <= cap(p.head):
		return true
	case p.headPooled:
		return p.pool.grow(&p.head, n, p.cfg.MaxHeaderBytes)
	case want <= headKeep:
		nb := make([]byte, len(p.head), min(max(want, 2*cap(p.head), 512), headKeep))
		copy(nb, p.head)
		p.head = nb
		return true
	}
	nb := p.pool.get(min(max(want, 2*headKeep), p.cfg.MaxHeaderBytes))
	if nb == nil {
		p.stats.BodyNotKept++
		return false
	}
	if cap(p.head) <= headKeep {
		p.headBuf = p.head[:0]
	}
	p.head = append(nb, p.head...)
	p.headPooled = true
	return true
}

// notKept marks msg as cut short by the body memory budget.
func (p *Parser) notKept() {
	if p.msg.Flags&FlagBodyNotKept == 0 {
		p.msg.Flags |= FlagBodyNotKept
		p.stats.BodyNotKept++
	}
}

// Kind reports what p has decided its direction carries.
func (p *Parser) Kind() Kind { return p.kind }

// Stats reports p's counters since the last Reset.
func (p *Parser) Stats() Stats { return p.stats }

// Feed parses the next in-order bytes of the stream, captured at ts (Unix
// ns). data is not retained after Feed returns.
func (p *Parser) Feed(data []byte, ts int64) {
	p.ts = ts
	for len(data) > 0 && p.st != stDone {
		n := p.step(data)
		data = data[n:]
		if n > 0 {
			p.stuck = 0
			continue
		}
		// Steps that only change state are few in a row by construction.
		if p.stuck++; p.stuck > maxStuck {
			p.stats.ParseErrors++
			p.loseSync()
			return
		}
	}
}

func (p *Parser) step(data []byte) int {
	switch p.st {
	case stStart:
		return p.stepStart(data)
	case stHead:
		return p.stepHead(data)
	case stBodyLen:
		n := int(min(p.remain, int64(len(data))))
		p.msg.WireBodyLen += int64(n)
		p.bodyBytes(data[:n])
		if p.remain -= int64(n); p.remain == 0 {
			p.finishMessage()
		}
		return n
	case stPeekBody:
		return p.stepPeek(data)
	case stChunkSize:
		return p.stepChunkSize(data)
	case stChunkData:
		n := int(min(p.remain, int64(len(data))))
		p.msg.WireBodyLen += int64(n)
		p.bodyBytes(data[:n])
		if p.remain -= int64(n); p.remain == 0 {
			p.st = stChunkDataEnd
		}
		return n
	case stChunkDataEnd:
		return p.stepChunkDataEnd(data)
	case stTrailer:
		return p.stepTrailer(data)
	case stBodyClose:
		p.msg.WireBodyLen += int64(len(data))
		p.bodyBytes(data)
		return len(data)
	case stResync:
		return p.stepResync(data)
	case stDetect:
		return p.stepDetect(data)
	case stSkipLine:
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			p.skip(len(data))
			return len(data)
		}
		p.skip(i + 1)
		if p.st == stSkipLine {
			p.st = stResync
		}
		return i + 1
	}
	return len(data)
}

// Gap tells p that n bytes of the stream are missing before the next Feed.
func (p *Parser) Gap(n int, ts int64) {
	if n <= 0 || p.st == stDone {
		return
	}
	p.stats.Gaps++
	p.judged = true // a stream that lost bytes cannot be told from an HTTP/0.9 response
	switch p.st {
	case stBodyLen, stChunkData:
		// Inside a body of known length the gap only costs body bytes:
		// framing stays in sync.
		if int64(n) <= p.remain {
			p.bodyGap(int64(n))
			if p.remain -= int64(n); p.remain == 0 {
				if p.st == stBodyLen {
					p.finishMessage()
				} else {
					p.st = stChunkDataEnd
				}
			}
			return
		}
		// The gap runs past the body: its first remain bytes were body
		// bytes, on the wire though not seen.
		p.bodyGap(p.remain)
		p.remain = 0
		if p.st == stBodyLen {
			// The message is complete by its framing; what the gap lost
			// after it starts the next one: resync.
			p.finishMessage()
			if p.st == stStart {
				p.st = p.resyncState()
				p.stats.Resyncs++
			}
			return
		}
		// Chunk framing after the hole is lost: the message is truncated.
	case stBodyClose:
		p.bodyGap(int64(n))
		return
	case stStart:
		if len(p.head) == 0 {
			p.st = p.resyncState()
			p.stats.Resyncs++
			return
		}
	case stHead:
		if p.v09Pending && len(p.head) == p.lineStart {
			// A 0.9 request line, then the hole: the request was whole.
			p.finish09Request()
			p.st = p.resyncState()
			p.stats.Resyncs++
			return
		}
	case stResync, stSkipLine:
		p.line = p.line[:0]
		p.st = stResync
		return
	case stDetect:
		// Bytes after a hole are no HTTP/0.9 response start any more.
		p.stats.SkippedBytes += uint64(len(p.line))
		p.line = p.line[:0]
		p.detOff = 0
		p.cand09 = false
		return
	}
	p.msg.Flags |= FlagGap
	p.loseSync()
}

// bodyGap accounts n lost body bytes.
func (p *Parser) bodyGap(n int64) {
	p.msg.Flags |= FlagGap
	p.msg.WireBodyLen += n
	p.msg.BodyLen += n
	p.encStop = true // decoding past the hole would only produce garbage
}

// Close ends the stream at ts: a close-delimited body completes, anything
// else in progress is reported with FlagTruncated.
func (p *Parser) Close(ts int64) {
	switch p.st {
	case stBodyClose:
		p.msg.Flags |= FlagCloseDelimited
		p.finishMessage()
	case stPeekBody:
		// The peeked bytes were no status line: they were the body.
		p.msg.WireBodyLen += int64(p.npeek)
		p.bodyBytes(p.peek[:p.npeek])
		p.msg.Flags |= FlagTruncated
		p.finishMessage()
	case stStart:
		if len(p.head) > 0 {
			p.closeStart()
		}
	case stDetect:
		// Bytes that showed no start line: an HTTP/0.9 response when a
		// request is waiting by now (its line may have ended only with its
		// stream, which the Tracker closes first), else not HTTP.
		if p.cand09 && len(p.line) > 0 {
			if m := p.h.ResponseMethod(); m != nil {
				p.start09Response(m, p.line, p.detTs)
				p.line = p.line[:0]
				p.finishMessage()
				break
			}
		}
		if len(p.line) > 0 {
			p.setKind(KindNotHTTP)
		}
	case stHead:
		if p.v09Pending && len(p.head) == p.lineStart {
			p.finish09Request()
			break
		}
		p.msg.Flags |= FlagTruncated
		p.abortMessage()
	case stBodyLen, stChunkSize, stChunkData, stChunkDataEnd, stTrailer:
		p.msg.Flags |= FlagTruncated
		p.abortMessage()
	}
	p.st = stDone
}

// loseSync reports the message in progress, if any, as truncated and
// scans for the next message start.
func (p *Parser) loseSync() {
	if p.st != stStart && p.st != stResync && p.st != stSkipLine {
		p.msg.Flags |= FlagTruncated
		p.abortMessage()
	} else {
		p.newMessage()
	}
	p.line = p.line[:0]
	p.detOff = 0
	p.cand09 = false
	p.st = p.resyncState()
	p.stats.Resyncs++
}

// resyncState is where scanning for a message start begins: at line starts
// on a stream known to be HTTP, anywhere while detecting the content.
func (p *Parser) resyncState() state {
	if p.kind == KindUnknown {
		return stDetect
	}
	return stResync
}

// abortMessage reports a message that cannot complete: a head is parsed as
// far as its complete lines go.
func (p *Parser) abortMessage() {
	if p.st == stHead {
		if i := bytes.LastIndexByte(p.head, '\n'); i >= 0 {
			p.head = p.head[:i+1]
		}
		p.parseHead()
		switch {
		case p.msg.IsRequest:
			p.sendHead()
		case p.interim:
			p.interim = false
		default:
			// Keep the other side's request queue in step with responses.
			p.method = append(p.method[:0], p.h.ResponseMethod()...)
		}
	}
	p.finishMessage()
}

// skip discards n bytes while scanning for a message start.
func (p *Parser) skip(n int) {
	p.stats.SkippedBytes += uint64(n)
	if p.kind != KindUnknown {
		return
	}
	p.stuck = 0
	if p.stats.SkippedBytes > detectBound {
		p.setKind(KindNotHTTP)
	}
}

func (p *Parser) setKind(k Kind) {
	p.kind = k
	if k == KindNotHTTP || k == KindTunnel {
		p.st = stDone
	}
}

// sendHead reports msg's head to the Handler, once.
func (p *Parser) sendHead() {
	if !p.headSent {
		p.headSent = true
		p.h.RequestHead(&p.msg)
	}
}

func (p *Parser) newMessage() {
	p.releaseBuffers() // after the Handler saw msg: its views die here
	p.msg = Message{Headers: p.msg.Headers[:0], IsRequest: p.kind == KindRequest}
	p.inMsg = false
	p.v09Pending = false
	p.headSent = false
	p.lineStart = 0
	p.wordLen = 0
	p.wordDone = false
	p.nextra = 0
	p.bodyCap = false
	p.ncodings = 0
	p.decoding = false
	p.undecodable = false
	p.encStop = false
	p.remain = 0
	p.line = p.line[:0]
	p.trail = 0
	p.trailLen = 0
	p.sawCR = false
	p.npeek = 0
}

// finishMessage completes msg, decodes its body and reports it.
func (p *Parser) finishMessage() {
	m := &p.msg
	m.End = p.ts
	switch {
	case p.decoding:
		p.decodeBody()
	case p.undecodable:
		m.DecodedLen = -1
	default:
		m.DecodedLen = m.BodyLen
	}
	m.Body = p.body
	if len(m.Headers) > p.cfg.MaxHeaders {
		m.Headers = m.Headers[:p.cfg.MaxHeaders]
	}
	if m.Flags&FlagParseError != 0 {
		p.stats.ParseErrors++
	}
	if m.Flags&FlagHeadersCapped != 0 {
		p.stats.HeadersCapped++
	}
	p.stats.Messages++
	p.h.Message(m)
	if p.st != stDone {
		p.st = stStart
	}
	p.newMessage()
}
