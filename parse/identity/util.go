package identity

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// eqFold reports whether b equals s, ASCII case-insensitively.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && eqFold(b[:len(s)], s)
}

// indexFold returns the index of needle (lower-case ASCII) in hay, compared
// ASCII case-insensitively, or -1.
func indexFold[T string | []byte](hay T, needle string) int {
	if len(needle) == 0 {
		return 0
	}
	n0 := needle[0]
	for i := 0; i+len(needle) <= len(hay); i++ {
		if lower(hay[i]) != n0 {
			continue
		}
		j := 1
		for j < len(needle) && lower(hay[i+j]) == needle[j] {
			j++
		}
		if j == len(needle) {
			return i
		}
	}
	return -1
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentDecode appends b to dst with %XX escapes decoded (invalid escapes
// are kept as they are) and, when plus, '+' read as a space.
func percentDecode[T string | []byte](dst []byte, b T, plus bool) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '%' && i+2 < len(b):
			h, ok1 := unhex(b[i+1])
			l, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				dst = append(dst, h<<4|l)
				i += 2
				continue
			}
			dst = append(dst, c)
		case c == '+' && plus:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func needsDecode[T string | []byte](b T, plus bool) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; c == '%' || (plus && c == '+') {
			return true
		}
	}
	return false
}

// normKey folds a field name for matching: the part after the last '.' or
// inside the last [...] ("user[email]" → "email", "Input.Password" →
// "password"), lower-cased, with everything but letters and digits dropped
// ("user_name", "userName" → "username"). It returns nil when the result
// does not fit buf.
func normKey(buf *[32]byte, k []byte) []byte {
	if n := len(k); n > 0 && k[n-1] == ']' {
		for i := n - 2; i >= 0; i-- {
			if k[i] == '[' {
				if i+1 < n-1 {
					k = k[i+1 : n-1]
				}
				break
			}
		}
	}
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '.' && i+1 < len(k) {
			k = k[i+1:]
			break
		}
	}
	n := 0
	for _, c := range k {
		c = lower(c)
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			if n == len(buf) {
				return nil
			}
			buf[n] = c
			n++
		}
	}
	return buf[:n]
}

func inSet(k []byte, set []string) bool {
	for _, s := range set {
		if string(k) == s {
			return true
		}
	}
	return false
}

// jsonMember is one object member found by jsonIter. For a string, Val is
// its raw body (without quotes, escapes kept) and Str is set; for a number
// or literal, Val is its text; for an object or array, Val is the rest of
// the input from its opening bracket and Container is set.
type jsonMember struct {
	Key, Val       []byte
	Depth          int // 1 for members of the top-level object
	Str, Container bool
	KeyEsc, ValEsc bool // Key / Val hold backslash escapes
	Truncated      bool // a string value cut by the end of the input (Val holds the rest)
}

const maxJSONDepth = 32

// jsonIter walks the object members of a JSON document at every depth, in
// order, without allocating. It tolerates truncated and malformed input
// (stopping or skipping, never failing) and always makes progress.
type jsonIter struct {
	b           []byte
	i           int
	stack       [maxJSONDepth]byte
	d           int
	expectKey   bool
	overflowDep int // containers opened past maxJSONDepth
}

func newJSONIter(b []byte) jsonIter { return jsonIter{b: b} }

func (it *jsonIter) inObject() bool { return it.d > 0 && it.stack[it.d-1] == '{' }

func (it *jsonIter) push(c byte) {
	if it.d == maxJSONDepth {
		it.overflowDep++
		return
	}
	it.stack[it.d] = c
	it.d++
	it.expectKey = c == '{'
}

func (it *jsonIter) pop() {
	if it.overflowDep > 0 {
		it.overflowDep--
		return
	}
	if it.d > 0 {
		it.d--
	}
	it.expectKey = false
}

// readString reads a string starting at the quote at it.i; returns its body.
func (it *jsonIter) readString() (body []byte, esc, ok bool) {
	start := it.i + 1
	for j := start; j < len(it.b); j++ {
		switch it.b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			it.i = j + 1
			return it.b[start:j], esc, true
		}
	}
	it.i = len(it.b)
	return nil, false, false
}

func (it *jsonIter) skipSpace() {
	for it.i < len(it.b) && isSpace(it.b[it.i]) {
		it.i++
	}
}

func (it *jsonIter) next(m *jsonMember) bool {
	for it.i < len(it.b) {
		c := it.b[it.i]
		switch c {
		case '{', '[':
			it.push(c)
			it.i++
		case '}', ']':
			it.pop()
			it.i++
		case ',':
			it.expectKey = it.inObject()
			it.i++
		case '"':
			s, esc, ok := it.readString()
			if !ok {
				return false
			}
			if !(it.expectKey && it.inObject() && it.overflowDep == 0) {
				continue // a value in an array, or junk
			}
			it.expectKey = false
			it.skipSpace()
			if it.i >= len(it.b) || it.b[it.i] != ':' {
				continue
			}
			it.i++
			it.skipSpace()
			if it.i >= len(it.b) {
				return false
			}
			*m = jsonMember{Key: s, KeyEsc: esc, Depth: it.d}
			switch v := it.b[it.i]; v {
			case '"':
				vs := it.i + 1
				val, vesc, ok := it.readString()
				if !ok {
					m.Val, m.Str, m.Truncated = it.b[vs:], true, true
					return true
				}
				m.Val, m.ValEsc, m.Str = val, vesc, true
			case '{', '[':
				m.Val, m.Container = it.b[it.i:], true
				it.push(v)
				it.i++
			default:
				vs := it.i
				for it.i < len(it.b) && !isSpace(it.b[it.i]) && it.b[it.i] != ',' && it.b[it.i] != '}' && it.b[it.i] != ']' {
					it.i++
				}
				m.Val = it.b[vs:it.i]
				if len(m.Val) == 0 {
					continue
				}
			}
			return true
		default:
			it.i++
		}
	}
	return false
}

// emptyContainer reports whether a container value (from '{' or '[') is
// empty or null-ish.
func emptyContainer(v []byte) bool {
	i := 1
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	return i >= len(v) || v[i] == '}' || v[i] == ']'
}
