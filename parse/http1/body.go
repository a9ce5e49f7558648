package http1

import "bytes"

// framing is what the header block says about the body.
type framing struct {
	cl        int64
	clSeen    bool
	clBad     bool // invalid, negative, overflowing or conflicting Content-Length
	te        bool
	chunked   bool // chunked is the final transfer coding
	upgrade   bool
	teCodings [maxLayers + 1]coding
	nte       int
	ceCodings [maxLayers + 1]coding
	nce       int
	unknown   bool // a coding the decoder does not know
}

// frame decides how the body of the message whose head was just parsed is
// delimited, reports request heads, and enters the body state.
func (p *Parser) frame() {
	m := &p.msg
	var f framing
	for i := range m.Headers {
		p.frameHeader(&f, &m.Headers[i])
	}
	for i := range p.extra[:p.nextra] {
		p.frameHeader(&f, &p.extra[i])
	}
	if f.clBad {
		m.Flags |= FlagParseError
	}
	if f.te && f.clSeen {
		// RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and
		// the pair is the classic request smuggling vector.
		m.Flags |= FlagSmuggling
	}
	p.setupCodings(&f)
	if m.IsRequest {
		p.frameRequest(&f)
	} else {
		p.frameResponse(&f)
	}
}

func (p *Parser) frameHeader(f *framing, h *Header) {
	switch {
	case equalFold(h.Name, "content-length"):
		p.parseContentLength(f, h.Value)
	case equalFold(h.Name, "transfer-encoding"):
		f.te = true
		f.chunked = false
		forEachToken(h.Value, func(tok []byte) {
			if f.chunked {
				// chunked not last: the message is not chunked (RFC 9112 §6.3).
				f.chunked = false
				p.msg.Flags |= FlagParseError
				f.addTE(codingChunkedNotLast)
			}
			if equalFold(tok, "chunked") {
				f.chunked = true
				return
			}
			f.addTE(codingOf(tok))
		})
	case equalFold(h.Name, "content-encoding"):
		forEachToken(h.Value, func(tok []byte) {
			c := codingOf(tok)
			if c == codingIdentity {
				return
			}
			if f.nce == len(f.ceCodings) {
				f.unknown = true // more layers than maxLayers
				return
			}
			f.ceCodings[f.nce] = c
			f.nce++
		})
	case equalFold(h.Name, "upgrade"):
		f.upgrade = true
	}
}

func (f *framing) addTE(c coding) {
	if c == codingIdentity || c == codingChunkedNotLast {
		return
	}
	if f.nte == len(f.teCodings) {
		f.unknown = true
		return
	}
	f.teCodings[f.nte] = c
	f.nte++
}

// parseContentLength accepts digits with leading zeros and comma lists of
// equal values (RFC 9110 §8.6); anything else marks the length bad.
func (p *Parser) parseContentLength(f *framing, v []byte) {
	forEachToken(v, func(tok []byte) {
		var n int64
		digits := 0
		for _, c := range tok {
			if !isDigit(c) {
				f.clBad = true
				return
			}
			if n == 0 && c == '0' {
				continue
			}
			// 18 significant digits cannot overflow int64.
			if digits++; digits > 18 {
				f.clBad = true
				return
			}
			n = n*10 + int64(c-'0')
		}
		if f.clSeen && n != f.cl {
			f.clBad = true
			p.msg.Flags |= FlagSmuggling // conflicting lengths
		}
		f.cl, f.clSeen = n, true
	})
	if len(trimWS(v)) == 0 {
		f.clBad = true
	}
}

// forEachToken calls fn with each non-empty, trimmed element of a comma list.
func forEachToken(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		if tok := trimWS(v[:i]); len(tok) > 0 {
			fn(tok)
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
}

// setupCodings lists the codings to undo: content codings were applied
// first, transfer codings on top of them.
func (p *Parser) setupCodings(f *framing) {
	n := 0
	bad := f.unknown
	for _, c := range append(f.ceCodings[:f.nce:f.nce], f.teCodings[:f.nte]...) {
		if c == codingUnknown {
			bad = true
		}
		if n == len(p.codings) {
			bad = true
			break
		}
		p.codings[n] = c
		n++
	}
	p.ncodings = n
	switch {
	case bad:
		p.undecodable = true
		p.msg.Flags |= FlagDecodeError
	case n > 0:
		p.decoding = true
	}
}

func (p *Parser) frameRequest(f *framing) {
	m := &p.msg
	p.upgradeReq = f.upgrade
	if equalFold(m.Method, "connect") {
		// A CONNECT has no body. Whether a tunnel follows is the answer's
		// to say, which this side cannot see: what follows decides, as at
		// a stream start. A request line is HTTP (pipelined after a refused
		// CONNECT, or carried by the tunnel); anything else (TLS) is the
		// tunnel.
		p.upgradeReq = true
		p.sendHead()
		p.finishMessage()
		return
	}
	p.sendHead()
	switch {
	case f.te && f.chunked:
		p.startChunked()
	case f.te:
		// A request whose final coding is not chunked cannot be framed
		// (RFC 9112 §6.3 says reject it); fall back to Content-Length.
		m.Flags |= FlagParseError
		p.startLength(f)
	default:
		p.startLength(f)
	}
}

// startLength frames a body by a valid Content-Length; a request without
// one (or with a bad one) has no body.
func (p *Parser) startLength(f *framing) {
	if f.clSeen && !f.clBad && f.cl > 0 {
		p.remain = f.cl
		p.st = stBodyLen
		return
	}
	p.finishMessage()
}

func (p *Parser) startChunked() {
	p.msg.Flags |= FlagChunked
	p.st = stChunkSize
}

func (p *Parser) frameResponse(f *framing) {
	m := &p.msg
	if p.interim {
		// Another response to the request a 1xx already answered.
		p.interim = false
	} else {
		p.method = append(p.method[:0], p.h.ResponseMethod()...)
	}
	hasBody := f.te || f.clSeen && !f.clBad && f.cl > 0
	switch {
	case m.Status == 101, m.Status/100 == 2 && equalFold(p.method, "connect"):
		// The connection switched protocols. HTTP/2 (h2c) is no HTTP/1:
		// a tunnel. Otherwise what follows decides, as at a stream start:
		// a status line is HTTP (a proxy tunnel carrying plain HTTP,
		// suricata http-connect-*), anything else (TLS, WebSocket) is the
		// tunnel.
		m.Flags |= FlagUpgrade
		if m.Status == 101 && upgradesToH2C(m) {
			p.kind = KindTunnel
			p.st = stDone
		} else {
			p.switched = true
		}
		p.finishMessage()
		return
	case equalFold(p.method, "head"):
		p.finishMessage()
		return
	case m.Status/100 == 1 || m.Status == 204 || m.Status == 304:
		if !hasBody {
			if m.Status/100 == 1 {
				m.Flags |= FlagInterim
				p.interim = true
			}
			p.finishMessage()
			return
		}
		// Browsers read a body framed by these headers, and evasions hide
		// content there (HTTP Evader 447/450/453); suricata follows the
		// headers too. A status line right after the head means the server
		// meant no body: peek before committing.
		m.Flags |= FlagUnexpectedBody
		p.st = stPeekBody
		p.peekFraming = *f
		return
	}
	p.frameResponseBody(f)
}

// upgradesToH2C tells whether a 101 switches to HTTP/2 over cleartext.
func upgradesToH2C(m *Message) bool {
	h2c := false
	forEachToken(m.Header("upgrade"), func(tok []byte) {
		h2c = h2c || equalFold(tok, "h2c")
	})
	return h2c
}

func (p *Parser) frameResponseBody(f *framing) {
	switch {
	case f.te && f.chunked:
		p.startChunked()
	case f.clSeen && !f.clBad && !f.te:
		if f.cl == 0 {
			p.finishMessage()
			return
		}
		p.remain = f.cl
		p.st = stBodyLen
	default:
		// No usable length, or a transfer coding other than chunked last:
		// the body runs to the end of the connection.
		p.st = stBodyClose
	}
}

// stepPeek waits for enough bytes to tell a status line from body bytes.
func (p *Parser) stepPeek(data []byte) int {
	const prefix = "http/"
	n := 0
	for n < len(data) && p.npeek < len(prefix) {
		c := data[n]
		p.peek[p.npeek] = c
		p.npeek++
		n++
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[p.npeek-1] {
			p.endPeek(false)
			return n
		}
	}
	if p.npeek == len(prefix) {
		p.endPeek(true)
	}
	return n
}

// endPeek settles a 1xx/204/304 with framing headers: a status line next
// means no body after all; anything else is the body the headers frame.
func (p *Parser) endPeek(statusNext bool) {
	var peek [len(p.peek)]byte
	k := copy(peek[:], p.peek[:p.npeek])
	if statusNext {
		p.msg.Flags &^= FlagUnexpectedBody
		p.finishMessage()
	} else {
		f := p.peekFraming
		p.frameResponseBody(&f)
	}
	p.replay(peek[:k])
}

// replay feeds bytes p consumed while undecided through the state machine.
func (p *Parser) replay(b []byte) {
	for stuck := 0; len(b) > 0 && p.st != stDone && stuck <= maxStuck; {
		n := p.step(b)
		b = b[n:]
		if stuck++; n > 0 {
			stuck = 0
		}
	}
}

// stepChunkSize reads "HEX[;ext]" up to LF.
func (p *Parser) stepChunkSize(data []byte) int {
	i := bytes.IndexByte(data, '\n')
	n := len(data)
	if i >= 0 {
		n = i + 1
	}
	if len(p.line)+n > maxLineBytes {
		p.msg.Flags |= FlagParseError
		p.loseSync()
		return n
	}
	p.msg.WireBodyLen += int64(n)
	if i < 0 {
		p.line = append(p.line, data...)
		return n
	}
	line := data[:n]
	if len(p.line) > 0 {
		p.line = append(p.line, line...)
		line = p.line
	}
	size, ok := parseChunkSize(trimEOL(line))
	p.line = p.line[:0]
	if !ok {
		p.msg.Flags |= FlagParseError
		p.loseSync()
		return n
	}
	if size == 0 {
		p.st = stTrailer
		return n
	}
	p.remain = size
	p.st = stChunkData
	return n
}

// parseChunkSize parses a chunk-size line: hex digits in any case,
// optional whitespace, optional extensions. Sizes of 2^62 and more are
// errors rather than numbers that wrap.
func parseChunkSize(line []byte) (int64, bool) {
	line = trimLeftWS(line)
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto end
		}
		if n > (1<<62-1)>>4 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
end:
	if i == 0 {
		return 0, false
	}
	rest := trimLeftWS(line[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return n, true
}

// stepChunkDataEnd consumes the CRLF (or bare LF) after chunk data.
func (p *Parser) stepChunkDataEnd(data []byte) int {
	switch {
	case data[0] == '\r' && !p.sawCR:
		p.sawCR = true
		p.msg.WireBodyLen++
		return 1
	case data[0] == '\n':
		p.sawCR = false
		p.msg.WireBodyLen++
		p.st = stChunkSize
		return 1
	}
	// Data ran past its chunk size: the sizes lie. Try the next size line
	// here rather than give up, as browsers do.
	p.sawCR = false
	p.msg.Flags |= FlagParseError
	p.st = stChunkSize
	return 0
}

// stepTrailer skips trailer fields up to the empty line; they are counted
// on the wire but not kept.
func (p *Parser) stepTrailer(data []byte) int {
	i := bytes.IndexByte(data, '\n')
	n := len(data)
	if i >= 0 {
		n = i + 1
	}
	p.msg.WireBodyLen += int64(n)
	if p.trail += n; p.trail > p.cfg.MaxHeaderBytes {
		p.msg.Flags |= FlagParseError | FlagHeadersCapped
		p.loseSync()
		return n
	}
	if i < 0 {
		if p.trailLen == 0 {
			p.trailFirst = data[0]
		}
		p.trailLen += n
		return n
	}
	// The line is empty when it holds just LF or CRLF, possibly split.
	first := p.trailFirst
	if p.trailLen == 0 && i > 0 {
		first = data[0]
	}
	size := p.trailLen + i
	empty := size == 0 || size == 1 && first == '\r'
	p.trailLen = 0
	if empty {
		p.finishMessage()
	}
	return n
}

// bodyBytes takes de-chunked body bytes: kept for decoding, or the first
// BodyKeep kept as the body itself.
//
// Buffers come from the Pool as the body grows; when its budget is spent
// the body keeps what it has (FlagBodyNotKept) and is still framed and
// counted.
func (p *Parser) bodyBytes(b []byte) {
	p.msg.BodyLen += int64(len(b))
	if p.decoding {
		if p.encStop {
			return
		}
		limit := max(p.cfg.BodyKeep, encodedKeepMin)
		if len(b) > limit-len(p.enc) {
			b = b[:limit-len(p.enc)]
			p.encStop = true
			p.bodyCap = true
		}
		if len(p.enc)+len(b) <= cap(p.enc) {
			p.enc = append(p.enc, b...)
		} else if !p.pool.appendHint(&p.enc, b, limit, p.sizeHint(len(p.enc), len(b))) {
			p.encStop = true
			p.notKept()
		}
		return
	}
	if n := len(p.body) + len(b); n <= cap(p.body) && n <= p.cfg.BodyKeep {
		p.body = append(p.body, b...)
	} else if len(p.body) < p.cfg.BodyKeep && !p.pool.appendHint(&p.body, b, p.cfg.BodyKeep, p.sizeHint(len(p.body), len(b))) {
		p.notKept()
	}
}

// sizeHint is the size a body buffer holding have bytes, about to take b
// more, will reach: known for a Content-Length body (remain still counts
// the b bytes), else 0.
func (p *Parser) sizeHint(have, b int) int {
	if p.st == stBodyLen {
		return have + int(min(p.remain, 1<<30))
	}
	return 0
}
