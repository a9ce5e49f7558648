package content

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/parse/jsonstr"
)

// frame is one open JSON container.
type frame struct {
	count int64 // elements begun (arrays), keys seen (objects)
	// The container's keys (objects) or elements (arrays) are under the
	// path prefix followed by arr "[]": prefix is the path of the key
	// holding the container or an array around it ("" at the root), pid
	// its id (pidRoot at the root, pidStale once the cache was emptied).
	prefix string
	pid    int32
	arr    int32
	isArr  bool
	objs   bool  // an array holding objects
	flags  uint8 // flags of the key holding the container; array elements inherit them
	top    uint8 // topWrapper / topOther for an array directly under a top-level object
}

const (
	topWrapper = 1 + iota
	topOther
)

// rootInfo collects what Records is computed from.
type rootInfo struct {
	kind         uint8 // rootObject, rootArray, rootScalar
	values       int64 // top-level values begun (NDJSON records)
	arrCount     int64 // elements of a top-level array
	wrapperCount int64 // elements under the first wrapper key; -1 none
	arrays       int   // top-level keys holding arrays of objects
	lastCount    int64 // elements under the last of those
	entity       bool  // the top-level object has an id key: one record
}

const (
	rootObject = 1 + iota
	rootArray
	rootScalar
)

// Walker states: what may come next.
const (
	stValue        = iota // a value
	stValueOrClose        // after '[': a value or ']'
	stKeyOrClose          // after '{': a key or '}'
	stKey                 // after ',' in an object
	stColon               // after a key
	stCommaOrClose        // after a value
)

// walkJSON walks a JSON document (a sequence of them when seq), recording
// field paths and records and scanning every scalar for sensitive data. It
// stops cleanly at the end of a truncated prefix. It returns false when the
// bytes are not JSON; the rest from the error on is then scanned as text.
func (a *Analyzer) walkJSON(b []byte, seq bool, sh *Shape) bool {
	b = bytes.TrimPrefix(b, bom)
	n := len(b)
	scanEnd := min(n, a.cfg.MaxScanBytes) // values starting before it are scanned
	a.stack = a.stack[:0]
	a.root.wrapperCount = -1
	var flags uint8 // flags of the key whose value comes next
	var keyID int32 // id of the key whose value comes next
	st := stValue
	i := 0
	ok := true
walk:
	for {
		i = skipWS(b, i)
		if i >= n {
			break
		}
		c := b[i]
		switch st {
		case stValueOrClose:
			if c == ']' {
				i++
				a.pop()
				st = stCommaOrClose
				continue
			}
			fallthrough
		case stValue:
			if len(a.stack) == 0 {
				a.root.values++
				if a.root.kind == 0 {
					switch c {
					case '{':
						a.root.kind = rootObject
					case '[':
						a.root.kind = rootArray
					default:
						a.root.kind = rootScalar
					}
				}
			} else if top := &a.stack[len(a.stack)-1]; top.isArr {
				top.count++
				top.objs = top.objs || c == '{'
				flags = top.flags
			}
			switch {
			case c == '{' || c == '[':
				if len(a.stack) >= a.cfg.MaxDepth {
					j, closed := a.skipNested(b, i, true)
					i = j
					if !closed {
						break walk
					}
					st = stCommaOrClose
					continue
				}
				f := frame{prefix: "", pid: pidRoot, isArr: c == '[', flags: flags}
				if len(a.stack) > 0 {
					if top := &a.stack[len(a.stack)-1]; top.isArr {
						f.prefix, f.pid, f.arr = top.prefix, top.pid, top.arr
					} else {
						f.prefix, f.pid = a.paths[keyID].s, keyID
					}
				}
				if f.isArr {
					f.arr++
				}
				if f.isArr && len(a.stack) == 1 && !a.stack[0].isArr {
					f.top = topOther
					if flags&fWrapper != 0 {
						f.top = topWrapper
					}
				}
				a.stack = append(a.stack, f)
				i++
				if f.isArr {
					st = stValueOrClose
				} else {
					st = stKeyOrClose
				}
			case c == '"':
				j, closed, esc := stringEnd(b, i+1)
				if i < scanEnd {
					a.scanString(b[i+1:j], esc, flags)
				}
				if !closed {
					break walk
				}
				i = j + 1
				st = stCommaOrClose
			case c == '-' || isDigit(c):
				j := i + 1
				for j < n && numTab[b[j]] {
					j++
				}
				if i < scanEnd {
					a.scanValue(b[i:j], flags)
				}
				i = j
				st = stCommaOrClose
			case c == 't' || c == 'f' || c == 'n':
				j := i + 1
				for j < n && b[j] >= 'a' && b[j] <= 'z' {
					j++
				}
				if !literal(b[i:j], j == n) {
					ok = false
					break walk
				}
				i = j
				st = stCommaOrClose
			default:
				ok = false
				break walk
			}
		case stKeyOrClose:
			if c == '}' {
				i++
				a.pop()
				st = stCommaOrClose
				continue
			}
			fallthrough
		case stKey:
			if c != '"' {
				ok = false
				break walk
			}
			j, closed, _ := stringEnd(b, i+1)
			if !closed {
				break walk // a cut key is not reported
			}
			key := b[i+1 : j]
			top := &a.stack[len(a.stack)-1]
			keyID, flags = a.keyPath(top, key, len(a.stack), int(top.count))
			top.count++
			if len(a.stack) == 1 && flags&fEntityID != 0 {
				a.root.entity = true
			}
			i = j + 1
			st = stColon
		case stColon:
			if c != ':' {
				ok = false
				break walk
			}
			i++
			st = stValue
		case stCommaOrClose:
			if len(a.stack) == 0 {
				if seq {
					st = stValue
					continue
				}
				ok = false
				break walk
			}
			top := &a.stack[len(a.stack)-1]
			switch {
			case c == ',':
				i++
				if top.isArr {
					st = stValue
				} else {
					st = stKey
				}
			case c == ']' && top.isArr, c == '}' && !top.isArr:
				i++
				a.pop()
			default:
				ok = false
				break walk
			}
		}
	}
	// Close what the prefix left open (a truncated document, an error).
	for len(a.stack) > 0 {
		a.pop()
	}
	if !ok {
		if a.root.kind == rootScalar && a.root.values == 1 {
			sh.Format = FormatOther // nothing JSON in it
		}
		if i < scanEnd {
			a.scanText(b[i:scanEnd])
		}
		// What follows the error was scanned as text only up to scanEnd;
		// beyond it, nothing was looked at.
		sh.Truncated = sh.Truncated || n > scanEnd
		return false
	}
	switch {
	case seq:
		sh.Records = a.root.values
	case a.root.kind == rootArray:
		sh.Records = a.root.arrCount
	case a.root.kind == rootObject:
		switch {
		case a.root.wrapperCount >= 0:
			sh.Records = a.root.wrapperCount
		case a.root.arrays == 1 && !a.root.entity:
			sh.Records = a.root.lastCount
		default:
			sh.Records = 1
		}
	}
	return true
}

// pop closes the innermost container.
func (a *Analyzer) pop() {
	f := a.stack[len(a.stack)-1]
	a.stack = a.stack[:len(a.stack)-1]
	switch {
	case len(a.stack) == 0 && f.isArr:
		a.root.arrCount = f.count
	case f.top == topWrapper && a.root.wrapperCount < 0:
		a.root.wrapperCount = f.count
	case f.top != 0 && f.objs:
		a.root.arrays++
		a.root.lastCount = f.count
	}
}

// skipNested passes over the container at b[i] (beyond MaxDepth), scanning
// its strings (when scan) without key context. It does not check that
// brackets match, only that they balance.
func (a *Analyzer) skipNested(b []byte, i int, scan bool) (int, bool) {
	depth := 0
	for n := len(b); i < n; i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case '"':
			j, closed, esc := stringEnd(b, i+1)
			if scan {
				a.scanString(b[i+1:j], esc, 0)
			}
			if !closed {
				return n, false
			}
			i = j
		}
	}
	return len(b), false
}

// topKeys reports the keys of a top-level JSON object (ParamNames).
func (a *Analyzer) topKeys(b []byte) {
	b = bytes.TrimPrefix(b, bom)
	n := len(b)
	i := skipWS(b, 0)
	if i >= n || b[i] != '{' {
		return
	}
	i++
	root := frame{pid: pidRoot}
	for slot := 0; ; slot++ {
		i = skipWS(b, i)
		if i >= n || b[i] != '"' {
			return
		}
		j, closed, _ := stringEnd(b, i+1)
		if !closed {
			return
		}
		a.keyPath(&root, b[i+1:j], 0, slot)
		i = skipWS(b, j+1)
		if i >= n || b[i] != ':' {
			return
		}
		i = skipWS(b, i+1)
		if i >= n {
			return
		}
		switch b[i] {
		case '{', '[':
			var closed bool
			if i, closed = a.skipNested(b, i, false); !closed {
				return
			}
		case '"':
			j, closed, _ := stringEnd(b, i+1)
			if !closed {
				return
			}
			i = j + 1
		default:
			for i < n && b[i] != ',' && b[i] != '}' && !isSpace(b[i]) {
				i++
			}
		}
		i = skipWS(b, i)
		if i >= n || b[i] != ',' {
			return
		}
		i++
	}
}

// stringEnd finds the closing quote of a JSON string whose content starts at
// b[i]: its index (len(b) when the prefix ends first), whether it was found,
// and whether the content holds escapes.
//
// Strings are most of a JSON body, so it looks at eight bytes at a time for
// a quote or a backslash (the "has zero byte" bit trick on the word XORed
// with each): the lowest flagged byte is always a real match.
func stringEnd(b []byte, i int) (end int, closed, esc bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q, s := w^(ones*'"'), w^(ones*'\\')
		m := ((q - ones) &^ q) | ((s - ones) &^ s)
		if m &= highs; m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) / 8
		if b[i] == '"' {
			return i, true, esc
		}
		esc = true
		i += 2
	}
	return stringEndBytes(b, i, esc)
}

// stringEndBytes is stringEnd a byte at a time: for the last bytes.
func stringEndBytes(b []byte, i int, esc bool) (end int, closed, _ bool) {
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, true, esc
		case '\\':
			esc = true
			i++
		}
	}
	return len(b), false, esc
}

// scanString scans a JSON string's content, unescaped first when needed.
func (a *Analyzer) scanString(s []byte, esc bool, flags uint8) {
	if esc {
		a.buf = jsonstr.Unescape(a.buf[:0], s)
		s = a.buf
	}
	a.scanValue(s, flags)
}

// literal reports whether w is true, false or null (or, cut by the end of
// the prefix, a beginning of one).
func literal(w []byte, atEnd bool) bool {
	for _, l := range [...]string{"true", "false", "null"} {
		if string(w) == l || atEnd && len(w) < len(l) && l[:len(w)] == string(w) {
			return true
		}
	}
	return false
}

// appendKey appends key to a field path: identifier-like keys as "{id}",
// control bytes and invalid UTF-8 as '?', cut at maxKeyLen bytes with "…".
func appendKey(dst, key []byte) []byte {
	if idLike(key) {
		return append(dst, "{id}"...)
	}
	cut := false
	if len(key) > maxKeyLen {
		key, cut = key[:maxKeyLen], true
	}
	ascii := true
	for _, c := range key {
		if c < 0x20 || c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		dst = append(dst, key...)
	} else {
		for len(key) > 0 {
			r, size := utf8.DecodeRune(key)
			switch {
			case r == utf8.RuneError && size <= 1:
				if cut && !utf8.FullRune(key) {
					key = nil // a rune cut by maxKeyLen: drop it
					continue
				}
				dst = append(dst, '?')
			case r < 0x20 || r == 0x7f:
				dst = append(dst, '?')
			default:
				dst = append(dst, key[:size]...)
			}
			key = key[size:]
		}
	}
	if cut {
		dst = append(dst, "…"...)
	}
	return dst
}

// idLike reports keys that name objects rather than fields: all digits, a
// UUID, or 16+ hex digits with a digit among them.
func idLike(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	digits, hex := 0, 0
	for _, c := range k {
		switch {
		case isDigit(c):
			digits++
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			hex++
		}
	}
	if digits == len(k) {
		return true
	}
	if digits+hex == len(k) {
		return len(k) >= 16 && digits > 0
	}
	if len(k) == 36 && digits+hex == 32 && k[8] == '-' && k[13] == '-' && k[18] == '-' && k[23] == '-' {
		return true
	}
	return false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numTab marks the bytes of a JSON number after its first.
var numTab = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true,
	'6': true, '7': true, '8': true, '9': true, '.': true, 'e': true, 'E': true, '+': true, '-': true}
