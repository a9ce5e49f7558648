package http1

import "bytes"

// stepStart reads the start line of the next message.
func (p *Parser) stepStart(data []byte) int {
	if len(p.head) == 0 {
		// Blank lines before a start line are tolerated (RFC 9112 §2.2);
		// clients send a stray CRLF after a POST body.
		i := 0
		for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
			i++
		}
		if i > 0 {
			return i
		}
		if !p.judged && p.kind == KindUnknown && data[0] == 0x16 {
			// A TLS handshake record: no HTTP/1 message starts with 0x16.
			p.setKind(KindNotHTTP)
			return len(data)
		}
		p.msg.Start = p.ts
		p.inMsg = true
		if !isTokenChar(data[0]) {
			p.badStart(false)
			return 0
		}
	}
	i := bytes.IndexByte(data, '\n')
	n := len(data)
	if i >= 0 {
		n = i + 1
	}
	if len(p.head)+n > maxLineBytes && !p.judged || !p.headFits(n) {
		// Keep what fits in the buffer at hand: the 0.9 body or the
		// detection window starts with it; the rest is skipped.
		k := min(n, cap(p.head)-len(p.head))
		p.head = append(p.head, data[:k]...)
		p.stats.SkippedBytes += uint64(n - k)
		p.badStart(i >= 0)
		return n
	}
	p.head = append(p.head, data[:n]...)
	if !p.firstWordOK() {
		p.badStart(i >= 0)
		return n
	}
	if i < 0 {
		return n
	}
	p.judgeStartLine(data[n:])
	return n
}

// maxMethodLen bounds a request method while judging bytes early: the
// longest registered ones (WebDAV "BASELINE-CONTROL") have 16 characters.
const maxMethodLen = 32

// firstWordOK checks the first word of the start line as it arrives, so a
// stream that is no HTTP is judged without waiting for a line end: it must
// be a method token or "HTTP/".
func (p *Parser) firstWordOK() bool {
	for !p.wordDone && p.wordLen < len(p.head) {
		c := p.head[p.wordLen]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.wordDone = true
		case isTokenChar(c) && p.wordLen < maxMethodLen:
			p.wordLen++
		case c == '/' && p.wordLen == 4 && equalFold(p.head[:4], "http"):
			p.wordLen++
		default:
			return false
		}
	}
	return true
}

// judgeStartLine classifies the complete start line in p.head; rest is what
// follows it in the current Feed, for the HTTP/0.9 lookahead.
func (p *Parser) judgeStartLine(rest []byte) {
	line := trimEOL(p.head)
	if p.kind != KindRequest && isStatusLine(line, false) {
		p.judged = true
		p.switched = false
		p.kind = KindResponse
		p.msg.IsRequest = false
		p.st = stHead
		p.lineStart = len(p.head)
		return
	}
	if p.kind == KindResponse {
		p.badStart(true)
		return
	}
	var rl requestLine
	if !rl.parse(line, false) {
		p.badStart(true)
		return
	}
	if rl.major >= 2 {
		// "PRI * HTTP/2.0": HTTP/2 with prior knowledge, or h2c after a
		// 101 Upgrade on the other side.
		if p.kind == KindUnknown {
			p.setKind(KindNotHTTP)
		} else {
			p.setKind(KindTunnel)
		}
		return
	}
	if rl.v09 && p.kind == KindUnknown && !p.judged {
		// "GET /x" could also be the first line of an HTTP/0.9 response
		// body; the other direction knows whether a request is pending.
		if m := p.h.ResponseMethod(); m != nil {
			p.start09Response(m, p.head, p.msg.Start)
			p.head = p.head[:0]
			return
		}
	}
	p.judged = true
	p.kind = KindRequest
	p.msg.IsRequest = true
	p.st = stHead
	p.lineStart = len(p.head)
	if rl.v09 && len(rest) == 0 {
		// HTTP/0.9 simple request ("GET /" and nothing else), or HTTP/1.0
		// missing its version whose header lines are still to come
		// (suricata's REQUEST_LINE_MISSING_PROTOCOL): the next bytes or the
		// end of the stream decide. The head is announced now, so that the
		// response can be framed meanwhile.
		p.v09Pending = true
		p.parseHead()
		p.sendHead()
	}
}

// finish09Request reports a pending versionless request line as an
// HTTP/0.9 request.
func (p *Parser) finish09Request() {
	p.parseHead()
	p.msg.Flags = p.msg.Flags&^FlagParseError | FlagHTTP09
	p.sendHead()
	p.finishMessage()
}

// closeStart settles a start line cut by the end of the stream: an
// HTTP/0.9 response when a request waits on a stream still undecided, a
// request (truncated) when it is a request line ("GET /" and a RST:
// suricata bug-3844), garbage otherwise.
func (p *Parser) closeStart() {
	if !p.judged && p.kind == KindUnknown {
		if m := p.h.ResponseMethod(); m != nil {
			p.start09Response(m, p.head, p.msg.Start)
			p.head = p.head[:0]
			p.finishMessage()
			return
		}
	}
	var rl requestLine
	if p.kind == KindResponse || !rl.parse(trimEOL(p.head), false) || rl.major >= 2 {
		if p.kind == KindUnknown {
			p.stats.SkippedBytes += uint64(len(p.head))
			p.setKind(KindNotHTTP)
		}
		return
	}
	p.judged = true
	p.kind = KindRequest
	p.msg.IsRequest = true
	p.msg.Flags |= FlagTruncated
	if rl.v09 {
		p.msg.Flags |= FlagHTTP09
	}
	p.parseHead()
	p.sendHead()
	p.finishMessage()
}

// badStart handles a start line that is not one: complete tells whether the
// whole line (up to LF) is in p.head.
func (p *Parser) badStart(complete bool) {
	if !p.judged && p.kind == KindUnknown {
		p.judged = true
		if m := p.h.ResponseMethod(); m != nil {
			// A request is waiting and the answer has no status line: an
			// HTTP/0.9 response, the rest of the stream being its body.
			p.start09Response(m, p.head, p.msg.Start)
			p.head = p.head[:0]
			return
		}
		// No request known yet (its line may still be under way): keep
		// the bytes as a candidate 0.9 body while detecting.
		p.cand09 = true
	}
	if p.kind == KindRequest && p.upgradeReq || p.kind == KindResponse && p.switched {
		// Bytes after a CONNECT or an Upgrade request, or after the
		// answer that accepted it, that are not HTTP are the new
		// protocol: a tunnel.
		p.setKind(KindTunnel)
		return
	}
	if p.kind == KindUnknown {
		// Content detection: the bytes so far seed the detection window.
		start := p.msg.Start
		seed := p.head
		p.newMessage() // seed's bytes stay in place until the next Pool get
		p.line = append(p.line[:0], seed...)
		p.detOff, p.detTs, p.lineTs = 0, start, start
		p.stats.Resyncs++
		p.st = stDetect
		if complete && !p.detectLine() {
			p.detOff = len(p.line)
		}
		return
	}
	p.stats.ParseErrors++
	p.stats.Resyncs++
	p.skip(len(p.head))
	p.newMessage()
	if p.st == stDone {
		return
	}
	p.st = stSkipLine
	if complete {
		p.st = stResync
	}
}

// start09Response starts an HTTP/0.9 response answering method: b, what
// was read before it was recognised (from start on), is its first body
// bytes; the rest of the stream is the body.
func (p *Parser) start09Response(method, b []byte, start int64) {
	p.judged = true
	p.cand09 = false
	p.kind = KindResponse
	p.method = append(p.method[:0], method...)
	p.msg.IsRequest = false
	p.msg.Flags |= FlagHTTP09 | FlagCloseDelimited
	if start == 0 {
		start = p.ts
	}
	p.msg.Start = start
	p.inMsg = true
	p.st = stBodyClose
	p.msg.WireBodyLen += int64(len(b))
	p.bodyBytes(b)
}

// stepDetect reads lines while the stream's content is unknown, keeping
// every byte (at most detectBound) and looking in each complete line for a
// strict start line anywhere, so that one right after a binary prefix with
// no line end of its own (SOCKS handshakes) is found.
func (p *Parser) stepDetect(data []byte) int {
	i := bytes.IndexByte(data, '\n')
	n := len(data)
	if i >= 0 {
		n = i + 1
	}
	if int(p.stats.SkippedBytes)+len(p.line)+n > detectBound {
		p.endDetect()
		return 0
	}
	if len(p.line) == 0 {
		p.detTs = p.ts
	}
	if len(p.line) == p.detOff {
		p.lineTs = p.ts
	}
	p.line = append(p.line, data[:n]...)
	if i >= 0 && !p.detectLine() {
		p.detOff = len(p.line)
	}
	return n
}

// endDetect settles a stream that showed no start line within detectBound:
// an HTTP/0.9 response when a request is waiting, else not HTTP.
func (p *Parser) endDetect() {
	if p.cand09 {
		if m := p.h.ResponseMethod(); m != nil {
			p.start09Response(m, p.line, p.detTs)
			p.line = p.line[:0]
			return
		}
	}
	p.stats.SkippedBytes += uint64(len(p.line))
	p.line = p.line[:0]
	p.setKind(KindNotHTTP)
}

// detectLine looks for a start line in the complete line at detOff; when
// one is found, the message starts there.
func (p *Parser) detectLine() bool {
	line := p.line[p.detOff:]
	pos, k := findStartLine(line, p.kind)
	if pos < 0 || len(line)-pos > p.cfg.MaxHeaderBytes {
		return false
	}
	p.stats.SkippedBytes += uint64(p.detOff + pos)
	start := p.lineTs
	cand := line[pos:]
	p.newMessage() // p.line's bytes stay in place
	if !p.headFits(len(cand)) {
		return false
	}
	p.head = append(p.head, cand...)
	p.line = p.line[:0]
	p.detOff = 0
	p.cand09 = false
	p.kind = k
	p.judged = true
	p.msg.IsRequest = k == KindRequest
	p.msg.Start = start
	p.inMsg = true
	p.lineStart = len(p.head)
	p.st = stHead
	return true
}

// findStartLine finds a strict start line in line (which ends in LF) at any
// position: a status line "HTTP/1.x NNN", or a request line "METHOD SP
// target SP HTTP/1.x" ending the line. A request line that does not start
// the line must have a known method, taken as the longest known suffix of
// the upper-case run before the target (SOCKS5 ends its request with the
// port, "\x00P" for 80, glued to "GET").
func findStartLine(line []byte, kind Kind) (int, Kind) {
	l := trimEOL(line)
	for off := 0; off < len(l); {
		j := bytes.Index(l[off:], httpVersionPrefix)
		if j < 0 {
			break
		}
		j += off
		off = j + 1
		if kind != KindRequest && isStatusLine(l[j:], true) {
			return j, KindResponse
		}
		if kind == KindResponse || j+8 != len(l) || j < 4 || l[j-1] != ' ' {
			continue
		}
		if _, _, ok := parseVersion(l[j:], true); !ok {
			continue
		}
		b := l[:j-1] // "...METHOD SP target"
		sp := bytes.LastIndexByte(b, ' ')
		if sp < 1 {
			continue
		}
		m := sp
		for m > 0 && ('A' <= b[m-1] && b[m-1] <= 'Z' || b[m-1] == '-' || b[m-1] == '_') {
			m--
		}
		if m > 0 {
			for m < sp && !knownMethod(b[m:sp]) {
				m++
			}
		}
		var rl requestLine
		if m < sp && rl.parse(l[m:], true) {
			return m, KindRequest
		}
	}
	return -1, KindUnknown
}

var httpVersionPrefix = []byte("HTTP/1.")

var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "QUERY"}

func knownMethod(b []byte) bool {
	for _, m := range knownMethods {
		if string(b) == m {
			return true
		}
	}
	return false
}

// stepHead reads header lines up to the empty line ending the block.
func (p *Parser) stepHead(data []byte) int {
	i := bytes.IndexByte(data, '\n')
	n := len(data)
	if i >= 0 {
		n = i + 1
	}
	if !p.headFits(n) {
		// Report what fits, then resync past the rest of the block.
		p.msg.Flags |= FlagParseError | FlagHeadersCapped | FlagTruncated
		p.abortMessage()
		p.st = stSkipLine
		p.stats.Resyncs++
		if i >= 0 {
			p.st = stResync
		}
		return n
	}
	p.head = append(p.head, data[:n]...)
	if i < 0 {
		return n
	}
	if l := len(p.head) - p.lineStart; l == 1 || l == 2 && p.head[p.lineStart] == '\r' {
		p.endHead()
		return n
	}
	p.lineStart = len(p.head)
	return n
}

// stepResync looks for a strict start line at the current line start.
func (p *Parser) stepResync(data []byte) int {
	if len(p.line) == 0 && !isTokenChar(data[0]) {
		p.st = stSkipLine
		return 0
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(p.line)+len(data) > maxLineBytes {
			p.skip(len(p.line) + len(data))
			p.line = p.line[:0]
			p.st = stSkipLine
			return len(data)
		}
		if len(p.line) == 0 {
			p.lineTs = p.ts
		}
		p.line = append(p.line, data...)
		return len(data)
	}
	start := p.ts
	cand := data[:i+1]
	if len(p.line) > 0 {
		p.line = append(p.line, cand...)
		cand = p.line
		start = p.lineTs
	}
	line := trimEOL(cand)
	var rl requestLine
	switch {
	case p.kind != KindRequest && isStatusLine(line, true):
		p.kind = KindResponse
	case p.kind != KindResponse && rl.parse(line, true):
		p.kind = KindRequest
	default:
		if len(p.line) > 0 && p.st == stResync {
			p.skip(len(p.line))
		} else {
			p.skip(i + 1)
		}
		p.line = p.line[:0]
		return i + 1
	}
	p.judged = true
	p.newMessage()
	p.head = append(p.head, cand...)
	p.line = p.line[:0]
	p.msg.IsRequest = p.kind == KindRequest
	p.msg.Start = start
	p.inMsg = true
	p.lineStart = len(p.head)
	p.st = stHead
	return i + 1
}

// endHead parses the complete head and sets up the body.
func (p *Parser) endHead() {
	p.parseHead()
	p.frame()
}

// parseHead fills msg from p.head: the start line and every complete
// header line. Views into p.head are taken only now, when it no longer grows.
func (p *Parser) parseHead() {
	m := &p.msg
	m.HeaderBytes = len(p.head)
	eol := bytes.IndexByte(p.head, '\n')
	if eol < 0 {
		eol = len(p.head) - 1
	}
	line := trimEOL(p.head[:eol+1])
	if m.IsRequest {
		var rl requestLine
		rl.parse(line, false)
		m.Method, m.Target, m.Proto = rl.method, rl.target, rl.proto
		m.Major, m.Minor = rl.major, rl.minor
		if rl.v09 && m.Flags&FlagHTTP09 == 0 {
			m.Flags |= FlagParseError // HTTP/1.0 request line missing its version
		}
	} else if m.Flags&FlagHTTP09 == 0 {
		p.parseStatusLine(line)
	}
	p.parseHeaders(p.head[eol+1:])
}

func (p *Parser) parseStatusLine(line []byte) {
	m := &p.msg
	sp := bytes.IndexAny(line, " \t")
	if sp < 0 {
		sp = len(line)
	}
	m.Proto = line[:sp]
	m.Major, m.Minor, _ = parseVersion(m.Proto, false)
	rest := trimLeftWS(line[sp:])
	code := rest
	if i := bytes.IndexAny(rest, " \t"); i >= 0 {
		code, m.Reason = rest[:i], trimLeftWS(rest[i:])
	}
	if len(code) == 3 && isDigit(code[0]) && isDigit(code[1]) && isDigit(code[2]) {
		m.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	} else {
		m.Flags |= FlagParseError // non-numeric status: framed as a final response
		m.Reason = rest
	}
}

// parseHeaders parses header lines (each ending in LF) into msg.Headers,
// unfolding obsolete line folding in place.
func (p *Parser) parseHeaders(b []byte) {
	m := &p.msg
	var last *Header
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b) - 1
		}
		raw := b[:i+1]
		b = b[i+1:]
		line := trimEOL(raw)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			cont := trimWS(line)
			if last == nil {
				m.Flags |= FlagParseError // a folded line with nothing to fold into
				continue
			}
			m.Flags |= FlagObsFold
			if len(cont) == 0 {
				continue
			}
			// The value ends before its line's EOL and the continuation
			// starts after it, so the joined value fits in place.
			v := last.Value
			start := len(v)
			full := v[:cap(v)]
			if start > 0 {
				full[start] = ' '
				start++
			}
			off := len(full) - cap(cont) // index of cont within full
			copy(full[start:], full[off:off+len(cont)])
			last.Value = full[:start+len(cont)]
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			// A header line without a name or colon is skipped, not fatal
			// (suricata http-not09 sends "FakeHeader").
			m.Flags |= FlagParseError
			p.stats.BadHeaders++
			last = nil
			continue
		}
		name := trimRightWS(line[:colon])
		value := trimWS(line[colon+1:])
		h := Header{Name: name, Value: value}
		switch {
		case len(m.Headers) < p.cfg.MaxHeaders:
			m.Headers = append(m.Headers, h)
			last = &m.Headers[len(m.Headers)-1]
		case isFramingHeader(name) && p.nextra < len(p.extra):
			// Dropped from Headers but still needed to frame the body.
			m.Flags |= FlagHeadersCapped
			p.extra[p.nextra] = h
			last = &p.extra[p.nextra]
			p.nextra++
		default:
			m.Flags |= FlagHeadersCapped
			last = nil
		}
	}
}

func isFramingHeader(name []byte) bool {
	return equalFold(name, "content-length") || equalFold(name, "transfer-encoding") ||
		equalFold(name, "content-encoding") || equalFold(name, "upgrade")
}

// requestLine is a parsed request line; views into the line.
type requestLine struct {
	method, target, proto []byte
	major, minor          int
	v09                   bool // "METHOD target" without a version
}

// parse parses a request line. Lenient mode takes any token method,
// runs of spaces or tabs, a case-insensitive version and a target with
// spaces in it (the version is the last word); strict mode, used when
// scanning for a message start in arbitrary bytes, wants
// "METHOD SP target SP HTTP/1.x" with an upper-case method.
func (rl *requestLine) parse(line []byte, strict bool) bool {
	*rl = requestLine{}
	i := 0
	for i < len(line) && isTokenChar(line[i]) {
		if strict && (line[i] < 'A' || line[i] > 'Z') && line[i] != '-' && line[i] != '_' {
			return false
		}
		i++
	}
	if i == 0 || i == len(line) || line[i] != ' ' && (strict || line[i] != '\t') || strict && i > 24 {
		return false
	}
	rl.method = line[:i]
	rest := trimWS(line[i:])
	if strict {
		rest = line[i+1:]
	}
	sp := bytes.LastIndexAny(rest, " \t")
	if sp < 0 {
		if strict || len(rest) == 0 {
			return false
		}
		rl.target, rl.v09 = rest, true
		return true
	}
	proto := rest[sp+1:]
	major, minor, ok := parseVersion(proto, strict)
	if !ok {
		return false
	}
	rl.target = trimRightWS(rest[:sp])
	if len(rl.target) == 0 || strict && bytes.IndexByte(rl.target, ' ') >= 0 {
		return false
	}
	for _, c := range rl.target {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	rl.proto, rl.major, rl.minor = proto, major, minor
	return true
}

// isStatusLine tells whether line is "HTTP/x.y" followed by a space (and a
// status, checked by the parser) or ends there. Strict mode wants
// "HTTP/1.x NNN".
func isStatusLine(line []byte, strict bool) bool {
	sp := bytes.IndexAny(line, " \t")
	if sp < 0 {
		return false
	}
	if _, _, ok := parseVersion(line[:sp], strict); !ok {
		return false
	}
	if strict {
		c := line[sp+1:]
		return line[sp] == ' ' && len(c) >= 3 && isDigit(c[0]) && isDigit(c[1]) && isDigit(c[2]) &&
			(len(c) == 3 || c[3] == ' ')
	}
	return true
}

// parseVersion parses "HTTP/x.y" (any case unless strict, where it must
// be "HTTP/1.0" or "HTTP/1.1").
func parseVersion(b []byte, strict bool) (major, minor int, ok bool) {
	if len(b) != 8 || !isDigit(b[5]) || b[6] != '.' || !isDigit(b[7]) {
		return 0, 0, false
	}
	if strict {
		if string(b[:5]) != "HTTP/" || b[5] != '1' || b[7] > '1' {
			return 0, 0, false
		}
	} else if !equalFold(b[:5], "http/") {
		return 0, 0, false
	}
	return int(b[5] - '0'), int(b[7] - '0'), true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func trimLeftWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimRightWS(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func trimWS(b []byte) []byte { return trimRightWS(trimLeftWS(b)) }

// equalFold compares b with lower-case ASCII s, ignoring b's case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
