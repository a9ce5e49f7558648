package endpoint

import "strings"

// ParamType is the kind of value a path parameter holds.
type ParamType uint8

// Parameter kinds. The zero value is TypeNone.
const (
	TypeNone    ParamType = iota
	TypeInt               // decimal digits, at most 19 ("42", "000123", "20240131")
	TypeUUID              // canonical dashed UUID, any version
	TypeHex               // 16+ hex digits not of a digest length
	TypeHash              // hex of a digest length: 32 (md5, or a UUID without dashes), 40, 64, 128
	TypeULID              // 26 Crockford base32 characters, first one 0-7
	TypeToken             // opaque base64/base64url-like id, or a prefixed id ("cus_NffrFeUfNV2Hib")
	TypeEmail             // local@domain.tld
	TypeDate              // 2024-01-31, optionally followed by "T" and a time
	TypeLearned           // a non-identifier position learned from its many distinct values
	TypeSpec              // an OpenAPI path parameter whose value does not look like an identifier
)

var typeNames = [...]string{"none", "int", "uuid", "hex", "hash", "ulid", "token", "email", "date", "learned", "spec"}

func (p ParamType) String() string {
	if int(p) < len(typeNames) {
		return typeNames[p]
	}
	return "unknown"
}

// placeholder is what an inferred parameter of type p shows in a template.
// Every identifier shape renders {id} so that an endpoint's identity never
// depends on the shape of one value; only emails and dates, which are no
// object ids in most APIs and are told apart by syntax alone, get their own.
func (p ParamType) placeholder() string {
	switch p {
	case TypeEmail:
		return "{email}"
	case TypeDate:
		return "{date}"
	case TypeLearned:
		return "{name}"
	}
	return "{id}"
}

func (p ParamType) paramName() string {
	switch p {
	case TypeEmail:
		return "email"
	case TypeDate:
		return "date"
	case TypeLearned:
		return "name"
	}
	return "id"
}

// ClassifySegment reports whether one decoded path segment is an identifier,
// and of which kind. A segment "<id>.<ext>" (such as "12345.pdf") is
// classified by its stem; see the package documentation for the rules.
func ClassifySegment(seg string) (ParamType, bool) {
	typ, _ := classify(seg)
	return typ, typ != TypeNone
}

// classify returns the type of seg and the length of its identifier part:
// len(seg), or the length of the stem when seg is "<id>.<ext>".
func classify(seg string) (ParamType, int) {
	if typ := classifyWhole(seg); typ != TypeNone {
		return typ, len(seg)
	}
	// "<id>.<ext>": a short alphanumeric extension starting with a letter.
	dot := strings.LastIndexByte(seg, '.')
	if dot <= 0 || !isExtension(seg[dot+1:]) {
		return TypeNone, 0
	}
	if typ := classifyWhole(seg[:dot]); typ != TypeNone && typ != TypeEmail {
		return typ, dot
	}
	return TypeNone, 0
}

func isExtension(ext string) bool {
	if len(ext) == 0 || len(ext) > 5 || !isAlpha(ext[0]) {
		return false
	}
	for i := 1; i < len(ext); i++ {
		if !isAlpha(ext[i]) && !isDigit(ext[i]) {
			return false
		}
	}
	return true
}

func classifyWhole(s string) ParamType {
	n := len(s)
	if n == 0 || isVersion(s) {
		return TypeNone
	}
	if allDigits(s) {
		if n <= 19 {
			return TypeInt
		}
		return hexType(n)
	}
	switch {
	case n == 36 && isUUID(s):
		return TypeUUID
	case n >= 10 && isDate(s):
		return TypeDate
	case strings.IndexByte(s, '@') > 0 && isEmail(s):
		return TypeEmail
	case n >= 16 && allHex(s):
		return hexType(n)
	case n == 26 && isULID(s):
		return TypeULID
	case n >= 16 && (isToken(s) || isPrefixedID(s)):
		return TypeToken
	}
	return TypeNone
}

func hexType(n int) ParamType {
	switch n {
	case 32, 40, 64, 128:
		return TypeHash
	}
	return TypeHex
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// isVersion: "v1", "V2", "v2beta", "v1alpha1", "v2.1", "v3_1", "2.0", "1.2.3".
func isVersion(s string) bool {
	if len(s) >= 2 && s[0]|0x20 == 'v' && isDigit(s[1]) {
		if len(s) > 16 {
			return false
		}
		for i := 2; i < len(s); i++ {
			c := s[i]
			if !isDigit(c) && !isAlpha(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return true
	}
	// dotted numbers: 2.0, 1.2.3 (an int with an extension never gets here:
	// an extension starts with a letter).
	if len(s) > 16 || !isDigit(s[0]) || !isDigit(s[len(s)-1]) {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
			dots++
		case !isDigit(c):
			return false
		}
	}
	return dots > 0 && dots <= 3
}

// isLocale: "en", "en-US", "pt_BR", "zh-Hans", "es-419", "zh-Hant-TW".
func isLocale(s string) bool {
	if len(s) < 2 || !isLower(s[0]) || !isLower(s[1]) {
		return false
	}
	i := 2
	if i < len(s) && isLower(s[i]) {
		i++
	}
	if i == len(s) {
		return i == 2 // a bare 3-letter word is more likely a word than a locale
	}
	for parts := 0; i < len(s); parts++ {
		if parts == 2 || (s[i] != '-' && s[i] != '_') {
			return false
		}
		j := i + 1
		for j < len(s) && s[j] != '-' && s[j] != '_' {
			j++
		}
		p := s[i+1 : j]
		switch {
		case len(p) == 2 && isUpper(p[0]) && isUpper(p[1]): // region
		case len(p) == 3 && allDigits(p): // UN M.49 region
		case len(p) == 4 && isUpper(p[0]) && isLower(p[1]) && isLower(p[2]) && isLower(p[3]): // script
		default:
			return false
		}
		i = j
	}
	return true
}

func isUUID(s string) bool {
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// isDate: YYYY-MM-DD with a plausible month and day, alone or followed by
// "T" and anything (an RFC 3339 timestamp).
func isDate(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	if len(s) > 10 && (s[10] != 'T' || len(s) > 40) {
		return false
	}
	if !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) {
		return false
	}
	y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	m := int(s[5]-'0')*10 + int(s[6]-'0')
	d := int(s[8]-'0')*10 + int(s[9]-'0')
	return y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= 31
}

func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at > 64 || len(s) > 254 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !isAlpha(c) && !isDigit(c) && strings.IndexByte(".!#$%&'*+=?^_`{|}~-", c) < 0 {
			return false
		}
	}
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 {
		return false
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '.' {
			return false
		}
	}
	for i := dot + 1; i < len(domain); i++ {
		if !isAlpha(domain[i]) {
			return false
		}
	}
	return true
}

func isULID(s string) bool {
	if s[0] < '0' || s[0] > '7' {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		switch {
		case isDigit(s[i]):
			digits++
		case c >= 'a' && c <= 'z' && c != 'i' && c != 'l' && c != 'o' && c != 'u':
		default:
			return false
		}
	}
	return digits >= 2
}

// isToken decides whether s (16+ chars) is an opaque base64/base64url-like
// id: only base64(url) characters, letters and digits both present, and not
// word-like. Word-like means: a segment without capitals that contains '-'
// or '_' (a slug: "my-awesome-product-2"), or one whose letters mostly sit
// in pronounceable words once split at case changes and digits
// ("getUserProfileV2Beta", "iphone15promax256").
func isToken(s string) bool {
	var letters, digits, upper int
	seps := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digits++
		case isUpper(c):
			upper++
			letters++
		case isLower(c):
			letters++
		case c == '-' || c == '_':
			seps = true
		case c == '+' || c == '/' || c == '~':
		case c == '=':
			// padding only at the end
			for j := i; j < len(s); j++ {
				if s[j] != '=' {
					return false
				}
			}
			if len(s)-i > 2 {
				return false
			}
			i = len(s)
		default:
			return false
		}
	}
	if digits == 0 || letters == 0 {
		return false
	}
	if upper == 0 && seps {
		return false
	}
	wordy, counted := wordiness(s)
	return counted == 0 || wordy*2 < counted
}

// wordiness splits the letters of s into words (at non-letters and camel
// case boundaries: "getHTTPResponse" → get, HTTP, Response) and returns the
// letters in word-like words (3+ letters, lower-case or capitalised,
// pronounceable) and the letters considered (short all-capital acronyms
// are neither).
func wordiness(s string) (wordy, counted int) {
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := s[start:end]
		start = -1
		upper := 0
		for i := 0; i < len(w); i++ {
			if isUpper(w[i]) {
				upper++
			}
		}
		switch {
		case upper == len(w) && len(w) >= 2 && len(w) <= 5:
			return // acronym
		case len(w) >= 3 && (upper == 0 || (upper == 1 && isUpper(w[0]))) && pronounceable(w):
			wordy += len(w)
		}
		counted += len(w)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) {
			flush(i)
			continue
		}
		if start >= 0 && isUpper(c) && (isLower(s[i-1]) || (i+1 < len(s) && isLower(s[i+1]) && isUpper(s[i-1]))) {
			flush(i)
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(s))
	return wordy, counted
}

func pronounceable(w string) bool {
	vowels, run := 0, 0
	for i := 0; i < len(w); i++ {
		switch w[i] | 0x20 {
		case 'a', 'e', 'i', 'o', 'u':
			vowels++
			run = 0
		case 'y':
			run = 0
		default:
			run++
			if run > 3 {
				return false
			}
		}
	}
	return vowels*4 >= len(w)
}

// isPrefixedID: "<prefix>_<id>" or "<prefix>-<id>" whose last part is a
// hex, ULID, UUID-less or token id of 12+ chars ("txn_8f7d6c5b4a3e2d1c",
// "order-01HV3K5ZQ8M2X9C7B6N4T1R0PW").
func isPrefixedID(s string) bool {
	i := strings.LastIndexAny(s, "_-")
	if i <= 0 || len(s)-i-1 < 12 {
		return false
	}
	body := s[i+1:]
	switch {
	case allDigits(body):
		return false
	case allHex(body):
		return len(body) >= 12
	case len(body) == 26 && isULID(body):
		return true
	}
	return len(body) >= 16 && isToken(body)
}

// reserved segments are never learned as parameters and never replaced by
// one: they name a resource, not an instance of it.
var reserved = map[string]struct{}{}

func init() {
	for _, w := range strings.Fields(`me self current mine my search latest new all list count
		batch bulk export import login logout signin signout signup register auth token tokens
		refresh health healthz readyz livez status metrics ping version config settings profile
		admin api graphql default first last next prev previous recent popular featured random
		stats summary details history upload download callback webhook webhooks oauth oauth2
		openid .well-known public private internal static assets images img js css fonts
		favicon.ico robots.txt sitemap.xml index index.html`) {
		reserved[w] = struct{}{}
	}
}

// isReserved reports a segment that must stay literal at a learned position.
func isReserved(s string) bool {
	if len(s) <= 1 || isVersion(s) || isLocale(s) {
		return true
	}
	if len(s) > 16 {
		return false
	}
	if _, ok := reserved[s]; ok {
		return true
	}
	// Case-insensitive without allocating; most segments are lower case
	// already, and the lookup above settled those.
	var b [16]byte
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			c |= 0x20
			upper = true
		}
		b[i] = c
	}
	if !upper {
		return false
	}
	_, ok := reserved[string(b[:len(s)])]
	return ok
}
