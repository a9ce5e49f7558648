package identity

// RedactMarker replaces every query value in RedactQuery's output.
const RedactMarker = '*'

// RedactQuery appends rawQuery to dst with every value replaced by
// RedactMarker ("a=1&b=&c" → "a=*&b=&c"): names are kept, an empty value
// stays empty (emptiness is no secret). A name longer than 64 bytes, and a
// bare entry (no '=') longer than 16 bytes — where a token sent as
// "?<token>" would sit — is replaced by the marker too. Empty entries are
// dropped.
func RedactQuery(rawQuery string, dst []byte) []byte {
	first := true
	for q := rawQuery; len(q) > 0; {
		var pair string
		if i := indexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, ""
		}
		if pair == "" {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		eq := indexByte(pair, '=')
		if eq < 0 {
			if len(pair) > 16 {
				dst = append(dst, RedactMarker)
			} else {
				dst = append(dst, pair...)
			}
			continue
		}
		name := pair[:eq]
		if len(name) > 64 {
			dst = append(dst, RedactMarker)
		} else {
			dst = append(dst, name...)
		}
		dst = append(dst, '=')
		if eq+1 < len(pair) {
			dst = append(dst, RedactMarker)
		}
	}
	return dst
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
