package conformance

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// This file reads Suricata rules (test.rules) far enough to evaluate the
// simple ones against apiwatch's transactions: content matches (with
// nocase, offset/depth, distance/within, startswith/endswith, negation) in
// HTTP buffers that a Transaction carries. Anything else (pcre, byte_*,
// flowbits, transforms, stream/app-layer events, raw packet/stream content,
// ...) makes the rule not evaluable, with the reason.

// Rule is a parsed Suricata rule.
type Rule struct {
	SID      int
	Msg      string
	Proto    string // rule protocol: http, http1, tcp, ...
	Ports    []int  // numeric ports in the header (either side)
	ToServer bool   // flow:to_server / from_client
	ToClient bool   // flow:to_client / from_server
	Contents []Content
	// NotEvaluable says why the rule cannot be evaluated ("" when it can).
	NotEvaluable string
	Text         string
}

// Content is one content match of a rule.
type Content struct {
	Pattern              []byte
	Buffer               string // canonical buffer name, "" = raw stream/packet payload
	Negated, Nocase      bool
	Offset, Depth        int
	Distance, Within     int
	Relative             bool // distance or within given
	HasDepth, HasWithn   bool
	StartsWith, EndsWith bool
}

// buffer aliases: sticky buffer keywords and content modifiers, mapped to the
// canonical buffer names evaluated in ruleBuffers.
var ruleBufferAliases = map[string]string{
	"file_data": "file_data", "file.data": "file_data",
	"http.response_body": "response_body", "http_server_body": "response_body",
	"http.request_body": "request_body", "http_client_body": "request_body",
	"http.uri": "uri", "http_uri": "uri", "uricontent": "uri",
	"http.uri.raw": "raw_uri", "http_raw_uri": "raw_uri",
	"http.method": "method", "http_method": "method",
	"http.host": "host", "http_host": "host",
	"http.host.raw": "raw_host", "http_raw_host": "raw_host",
	"http.user_agent": "user_agent", "http_user_agent": "user_agent",
	"http.cookie": "cookie", "http_cookie": "cookie",
	"http.stat_code": "stat_code", "http_stat_code": "stat_code",
	"http.header": "header", "http_header": "header",
	"http.header.raw": "raw_header", "http_raw_header": "raw_header",
	"http.request_header":  "request_header",
	"http.response_header": "response_header",
	"http.header_names":    "header_names", "http_header_names": "header_names",
	"http.connection":   "connection",
	"http.content_type": "content_type",
	"http.content_len":  "content_len",
	"http.referer":      "referer",
	"http.protocol":     "protocol",
	"http.request_line": "request_line",
	"pkt_data":          "",
}

// options that do not change what a rule matches in a way we evaluate.
var ruleIgnoredOptions = map[string]bool{
	"msg": true, "sid": true, "rev": true, "gid": true, "classtype": true, "reference": true,
	"metadata": true, "priority": true, "fast_pattern": true, "filestore": true,
	"target": true, "rawbytes": true,
	// threshold only limits how often an alert repeats; we evaluate "fires at
	// least once", which it does not change.
	"threshold": true,
}

var sidRe = regexp.MustCompile(`\bsid\s*:\s*(\d+)`)

// LoadRules parses a test.rules file; commented-out rules are skipped.
func LoadRules(path string) (map[int]*Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rules := map[int]*Rule{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := ParseRule(line)
		if err != nil {
			// keep the sid known, so its checks say why they are not evaluated
			m := sidRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			sid, _ := strconv.Atoi(m[1])
			r = &Rule{SID: sid, Text: line, NotEvaluable: "unparseable rule: " + err.Error()}
		}
		rules[r.SID] = r
	}
	return rules, nil
}

// ParseRule parses one rule line.
func ParseRule(text string) (*Rule, error) {
	open := strings.IndexByte(text, '(')
	close := strings.LastIndexByte(text, ')')
	if open < 0 || close < open {
		return nil, fmt.Errorf("no option list")
	}
	r := &Rule{Text: text}
	hdr := strings.Fields(text[:open])
	if len(hdr) != 7 {
		return nil, fmt.Errorf("bad rule header %q", text[:open])
	}
	r.Proto = hdr[1]
	for _, p := range []string{hdr[3], hdr[6]} {
		if n, err := strconv.Atoi(p); err == nil {
			r.Ports = append(r.Ports, n)
		}
	}
	notEval := func(format string, a ...any) {
		if r.NotEvaluable == "" {
			r.NotEvaluable = fmt.Sprintf(format, a...)
		}
	}
	switch {
	case r.Proto == "http" || r.Proto == "http1" || r.Proto == "tcp":
	case strings.HasPrefix(r.Proto, "http1:") || strings.HasPrefix(r.Proto, "http:"):
		notEval("hooked rule protocol %s", r.Proto)
	default:
		notEval("rule protocol %s", r.Proto)
	}

	sticky := "" // current sticky buffer; "" = raw payload
	var last *Content
	for _, opt := range splitOptions(text[open+1 : close]) {
		key, val, _ := strings.Cut(opt, ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "" {
			continue
		}
		if buf, ok := ruleBufferAliases[key]; ok {
			if key == "uricontent" { // content + http_uri in one keyword
				c, err := parseContent(val)
				if err != nil {
					return nil, err
				}
				c.Buffer = "uri"
				r.Contents = append(r.Contents, c)
				last = &r.Contents[len(r.Contents)-1]
				continue
			}
			if contentModifiers[key] {
				if last == nil {
					notEval("%s without content", key)
					continue
				}
				last.Buffer = buf // content modifier: applies to the preceding content
				continue
			}
			sticky = buf
			last = nil
			continue
		}
		if ruleIgnoredOptions[key] {
			switch key {
			case "sid":
				r.SID, _ = strconv.Atoi(val)
			case "msg":
				r.Msg = strings.Trim(val, `"`)
			}
			continue
		}
		switch key {
		case "content":
			c, err := parseContent(val)
			if err != nil {
				return nil, err
			}
			c.Buffer = sticky
			r.Contents = append(r.Contents, c)
			last = &r.Contents[len(r.Contents)-1]
		case "nocase", "depth", "offset", "distance", "within", "startswith", "endswith":
			if last == nil {
				notEval("%s without content", key)
				continue
			}
			n, _ := strconv.Atoi(val)
			switch key {
			case "nocase":
				last.Nocase = true
			case "depth":
				last.Depth, last.HasDepth = n, true
			case "offset":
				last.Offset = n
			case "distance":
				last.Distance, last.Relative = n, true
			case "within":
				last.Within, last.HasWithn, last.Relative = n, true, true
			case "startswith":
				last.StartsWith = true
			case "endswith":
				last.EndsWith = true
			}
			if _, err := strconv.Atoi(val); val != "" && err != nil {
				notEval("%s with variable %q", key, val)
			}
		case "flow":
			for _, f := range strings.Split(val, ",") {
				switch strings.TrimSpace(f) {
				case "to_server", "from_client":
					r.ToServer = true
				case "to_client", "from_server":
					r.ToClient = true
				case "established", "stateless", "not_established":
				default:
					notEval("flow option %q", f)
				}
			}
		default:
			// pcre, byte_test, byte_jump, flowbits, flowint, base64_decode,
			// base64_data, transforms (url_decode, from_base64, gunzip, ...),
			// lua, stream-event, app-layer-event, bsize, isdataat, dsize,
			// flags, tls.*, ...
			notEval("keyword %s", key)
		}
	}
	if r.SID == 0 {
		return nil, fmt.Errorf("rule without sid")
	}
	if len(r.Contents) == 0 {
		notEval("no content match")
	}
	for _, c := range r.Contents {
		if c.Buffer == "" {
			notEval("content %q on the raw stream/packet payload, which apiwatch does not report", c.Pattern)
		}
		if c.Buffer == "content_len" || c.Buffer == "protocol" {
			notEval("buffer %s", c.Buffer)
		}
	}
	return r, nil
}

// contentModifiers are the old-style buffer keywords that apply to the
// preceding content (all others in ruleBufferAliases are sticky buffers).
var contentModifiers = map[string]bool{
	"http_uri": true, "http_raw_uri": true, "http_method": true, "http_host": true,
	"http_raw_host": true, "http_user_agent": true, "http_cookie": true,
	"http_stat_code": true, "http_header": true, "http_raw_header": true,
	"http_client_body": true, "http_server_body": true,
}

// splitOptions splits a rule's option list on ';' outside quotes, honouring
// backslash escapes.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			cur.WriteByte(ch)
			cur.WriteByte(s[i+1])
			i++
		case ch == '"':
			inQuote = !inQuote
			cur.WriteByte(ch)
		case ch == ';' && !inQuote:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// parseContent decodes a content value: optional '!', a quoted string with
// |hex hex| segments and \" \; \\ \: escapes.
func parseContent(val string) (Content, error) {
	var c Content
	val = strings.TrimSpace(val)
	if strings.HasPrefix(val, "!") {
		c.Negated = true
		val = strings.TrimSpace(val[1:])
	}
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return c, fmt.Errorf("content %s is not quoted", val)
	}
	val = val[1 : len(val)-1]
	var out []byte
	inHex := false
	var hexBuf strings.Builder
	for i := 0; i < len(val); i++ {
		ch := val[i]
		switch {
		case ch == '|':
			if inHex {
				h := strings.Join(strings.Fields(hexBuf.String()), "")
				b, err := hex.DecodeString(h)
				if err != nil {
					return c, fmt.Errorf("bad hex in content: %q", hexBuf.String())
				}
				out = append(out, b...)
				hexBuf.Reset()
			}
			inHex = !inHex
		case inHex:
			hexBuf.WriteByte(ch)
		case ch == '\\' && i+1 < len(val):
			i++
			out = append(out, val[i])
		default:
			out = append(out, ch)
		}
	}
	if inHex {
		return c, fmt.Errorf("unterminated hex in content")
	}
	c.Pattern = out
	return c, nil
}

// matchTx reports whether rule r matches transaction t: every content
// matches its buffer, contents of one buffer in order (relative modifiers
// chain within a buffer, as in Suricata).
//
// decided is false when the rule did not match but might have: a body
// buffer that did not match was captured only in part (Transaction bodies
// are 64 KiB prefixes; Suricata inspects further).
func (r *Rule) matchTx(t *Transaction) (match, decided bool) {
	if len(r.Ports) > 0 {
		for _, p := range r.Ports {
			if t.SrcPort != p && t.DstPort != p {
				return false, true
			}
		}
	}
	// group contents by buffer, keeping order
	var order []string
	groups := map[string][]Content{}
	for _, c := range r.Contents {
		if _, ok := groups[c.Buffer]; !ok {
			order = append(order, c.Buffer)
		}
		groups[c.Buffer] = append(groups[c.Buffer], c)
	}
	undecided := false
	for _, name := range order {
		ok, partial := false, false
		bufs, parts := r.buffers(t, name)
		negated := false
		for _, c := range groups[name] {
			negated = negated || c.Negated
		}
		for i, buf := range bufs {
			partial = partial || parts[i]
			if matchContents(buf, groups[name], 0, 0) {
				ok = true
				if negated && parts[i] { // a negated content may occur beyond the prefix
					undecided = true
				}
				break
			}
		}
		switch {
		case !ok && partial:
			undecided = true
		case !ok:
			return false, true
		}
	}
	if undecided {
		return false, false
	}
	return true, true
}

// buffers returns the candidate byte strings of a named buffer for t. For a
// multi-buffer (http.request_header) or when the rule's direction leaves the
// side open (file_data, http.header without flow:to_server/to_client), each
// candidate is tried and one must match all of the buffer's contents.
//
// Mappings (Suricata → Transaction):
//   - file_data: response body, or request body (Suricata inspects files in
//     both directions); flow:to_client / to_server restricts the side.
//   - http.uri (normalized): Target without scheme/authority, raw and
//     percent-decoded (libhtp normalizes; apiwatch reports as sent);
//     http.uri.raw: Target as sent.
//   - http.host: host without port, lowercased; http.host.raw: Host as sent.
//   - http.header: "Name: value\r\n" lines, Cookie/Set-Cookie excluded;
//     http.header.raw: the same lines incl. cookies (apiwatch does not keep
//     the raw header bytes: whitespace may differ from the wire).
//   - http.header_names: "\r\nName1\r\nName2\r\n\r\n".
func (r *Rule) buffers(t *Transaction, name string) (out [][]byte, partial []bool) {
	reqSide, respSide := !r.ToClient, !r.ToServer
	add := func(s string) {
		out = append(out, []byte(s))
		partial = append(partial, false)
	}
	addBody := func(b []byte, decodedLen int64) {
		out = append(out, b)
		// a prefix of a longer body; an unknown decoded length (decoding
		// failed) is not partial: apiwatch did not recover that body
		partial = append(partial, decodedLen >= 0 && int64(len(b)) < decodedLen)
	}
	switch name {
	case "file_data":
		if respSide && t.HasResponse {
			addBody(t.ResponseBody, t.responseDecodedLen())
		}
		if reqSide && t.HasRequest {
			addBody(t.RequestBody, t.requestDecodedLen())
		}
	case "response_body":
		if t.HasResponse {
			addBody(t.ResponseBody, t.responseDecodedLen())
		}
	case "request_body":
		if t.HasRequest {
			addBody(t.RequestBody, t.requestDecodedLen())
		}
	case "uri":
		if t.HasRequest {
			p := originForm(t.Target)
			add(p)
			if d, err := url.PathUnescape(p); err == nil && d != p {
				add(d)
			}
		}
	case "raw_uri":
		if t.HasRequest {
			add(t.Target)
		}
	case "method":
		if t.HasRequest {
			add(t.Method)
		}
	case "host":
		if t.HasRequest {
			add(strings.ToLower(hostOnly(t.Host)))
		}
	case "raw_host":
		if t.HasRequest {
			add(t.Host)
		}
	case "user_agent":
		if t.HasRequest {
			add(t.UserAgent)
		}
	case "referer":
		if t.HasRequest {
			add(t.Referer)
		}
	case "content_type":
		if reqSide {
			add(headerValue(t.RequestHeaders, "Content-Type"))
		}
		if respSide {
			add(t.ContentType)
		}
	case "cookie":
		if reqSide && t.HasRequest {
			add(headerValue(t.RequestHeaders, "Cookie"))
		}
		if respSide && t.HasResponse {
			add(headerValue(t.ResponseHeaders, "Set-Cookie"))
		}
	case "connection":
		if reqSide && t.HasRequest {
			add(headerValue(t.RequestHeaders, "Connection"))
		}
		if respSide && t.HasResponse {
			add(headerValue(t.ResponseHeaders, "Connection"))
		}
	case "stat_code":
		if t.HasResponse {
			add(strconv.Itoa(t.Status))
		}
	case "request_line":
		if t.HasRequest {
			add(strings.TrimSpace(t.Method + " " + t.Target + " " + t.Proto))
		}
	case "header", "raw_header", "header_names":
		for _, side := range []struct {
			ok bool
			hs [][2]string
		}{{reqSide && t.HasRequest, t.RequestHeaders}, {respSide && t.HasResponse, t.ResponseHeaders}} {
			if !side.ok {
				continue
			}
			var b strings.Builder
			if name == "header_names" {
				b.WriteString("\r\n")
			}
			for _, h := range side.hs {
				if name == "header_names" {
					b.WriteString(h[0] + "\r\n")
					continue
				}
				if name == "header" && (strings.EqualFold(h[0], "Cookie") || strings.EqualFold(h[0], "Set-Cookie")) {
					continue
				}
				b.WriteString(h[0] + ": " + h[1] + "\r\n")
			}
			if name == "header_names" {
				b.WriteString("\r\n")
			}
			add(b.String())
		}
	case "request_header", "response_header":
		hs := t.RequestHeaders
		if name == "response_header" {
			hs = t.ResponseHeaders
		}
		for _, h := range hs {
			add(h[0] + ": " + h[1])
		}
	}
	return out, partial
}

// matchContents matches cs[i:] in buf, prevEnd being the end of the previous
// match (for relative modifiers). It backtracks over candidate positions.
func matchContents(buf []byte, cs []Content, i, prevEnd int) bool {
	if i == len(cs) {
		return true
	}
	c := cs[i]
	hay, pat := buf, c.Pattern
	if c.Nocase {
		hay, pat = bytes.ToLower(buf), bytes.ToLower(pat)
	}
	lo, hi := 0, len(buf) // allowed [start, end) window for the match
	if c.Relative {
		lo = prevEnd + c.Distance
		if c.HasWithn {
			hi = min(hi, prevEnd+c.Distance+c.Within)
			if c.Distance < 0 {
				hi = min(len(buf), prevEnd+c.Within)
			}
		}
	} else {
		lo = c.Offset
		if c.HasDepth {
			hi = min(hi, c.Offset+c.Depth)
		}
	}
	if c.StartsWith {
		hi = min(hi, lo+len(pat))
	}
	if lo < 0 {
		lo = 0
	}
	found := false
	for s := lo; s+len(pat) <= hi; s++ {
		if !bytes.Equal(hay[s:s+len(pat)], pat) {
			continue
		}
		e := s + len(pat)
		if c.EndsWith && e != len(buf) {
			continue
		}
		if c.Negated {
			found = true
			break
		}
		if matchContents(buf, cs, i+1, e) {
			return true
		}
	}
	if c.Negated && !found {
		return matchContents(buf, cs, i+1, prevEnd)
	}
	return false
}

// originForm strips "scheme://authority" from an absolute-form target.
func originForm(target string) string {
	if i := strings.Index(target, "://"); i > 0 && !strings.Contains(target[:i], "/") {
		rest := target[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return target
}

// hostOnly strips a port from a host[:port] (IPv6 literals keep their brackets).
func hostOnly(h string) string {
	h = strings.TrimSpace(h)
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		return h[:i]
	}
	return h
}
