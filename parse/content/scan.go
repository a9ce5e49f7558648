package content

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/bits"
)

// Byte classes.
const (
	cWord   = 1 << iota // [A-Za-z0-9_]: bytes that continue a word
	cDigit              // [0-9]
	cUpper              // [A-Z]
	cAlnum              // [A-Za-z0-9]
	cLocal              // [A-Za-z0-9._%+-]: an email's local part
	cLabel              // [A-Za-z0-9-]: a domain label
	cB64URL             // [A-Za-z0-9_-]
	cB64                // [A-Za-z0-9+/]
)

var ctab = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		digit := b >= '0' && b <= '9'
		upper := b >= 'A' && b <= 'Z'
		alnum := digit || upper || b >= 'a' && b <= 'z'
		set := func(cond bool, f uint8) {
			if cond {
				t[c] |= f
			}
		}
		set(alnum || b == '_', cWord)
		set(digit, cDigit)
		set(upper, cUpper)
		set(alnum, cAlnum)
		set(alnum || b == '.' || b == '_' || b == '%' || b == '+' || b == '-', cLocal)
		set(alnum || b == '-', cLabel)
		set(alnum || b == '_' || b == '-', cB64URL)
		set(alnum || b == '+' || b == '/', cB64)
	}
	return t
}()

// span returns the end of the run of class cls bytes from p, at most maxLen long.
func span(v []byte, p int, cls uint8, maxLen int) int {
	lim := len(v)
	if maxLen < lim-p {
		lim = p + maxLen
	}
	for p < lim && ctab[v[p]]&cls != 0 {
		p++
	}
	return p
}

// shortText: values up to this long are checked first for what they
// could hold.
const shortText = 128

// scanValue counts the sensitive data in one value, using what its key says.
func (a *Analyzer) scanValue(v []byte, flags uint8) {
	if flags&^(fWrapper|fEntityID) != 0 {
		if flags&(fPassword|fSecret) != 0 && credential(v) {
			if flags&fPassword != 0 {
				a.counts[PasswordField]++
			}
			if flags&fSecret != 0 {
				a.counts[SecretField]++
			}
		}
		switch {
		case flags&fPhone != 0 && phoneValue(v):
			a.counts[Phone]++
			return
		case flags&fSSN != 0 && ssnValue(v):
			a.counts[SSN]++
			return
		case flags&fAWSSecret != 0 && awsSecret(bytes.TrimSpace(v)):
			a.counts[CloudSecret]++
			return
		}
	}
	a.scanText(v)
}

// scanText counts the sensitive data in free text, in one pass: checks
// start only where a word starts, at '@', at '+' or '(' before digits and
// at "-----BEGIN "; every check is bounded or consumes what it examined.
func (a *Analyzer) scanText(v []byte) {
	n := len(v)
	a.memo.ng = 0 // groups of another value never apply (a.buf is reused)
	num := true   // digit runs may be counted
	if n <= shortText {
		// A short value without '@' and with fewer than 9 digits holds no
		// email, phone, card or SSN; one of under 12 bytes nothing else
		// either (the shortest other, a Slack token, is 15).
		if digits, at := digitsAt(v); !at && digits < 9 {
			if n < 12 {
				return
			}
			num = false
		}
	}
	word := false // v[i-1] continues a word
	for i := 0; i < n; {
		c := v[i]
		if ctab[c]&cWord != 0 {
			if !word {
				if j := a.wordStart(v, i, num); j > i {
					i, word = j, ctab[v[j-1]]&cWord != 0
					continue
				}
			}
			for i++; i < n && ctab[v[i]]&cWord != 0; i++ {
			}
			word = true
			continue
		}
		j := i
		switch c {
		case '@':
			j = a.email(v, i)
		case '+', '(':
			if !word && num {
				j = a.number(v, i)
			}
		case '-':
			j = a.pem(v, i)
		}
		if j > i {
			i, word = j, ctab[v[j-1]]&cWord != 0
			continue
		}
		word = false
		i++
	}
}

// digitsAt counts the ASCII digits in v and reports whether it holds an
// '@'. It looks at eight bytes at a time: most values are short and this
// look decides that nothing else needs to be done for them, so it runs on
// every string of every analysed body.
func digitsAt(v []byte) (digits int, at bool) {
	const ones, low7, highs = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	var ats uint64
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := binary.LittleEndian.Uint64(v[i:])
		// Per byte, with no carry between bytes: x+0x50 has its high bit
		// set from '0' on, x+0x46 from '9'+1 on; bytes >= 0x80 are no digit.
		x := w & low7
		digits += bits.OnesCount64((x + ones*(0x80-'0')) &^ (x + ones*(0x80-'9'-1)) &^ w & highs)
		// A byte equal to '@' is the one whose xor is zero.
		y := w ^ ones*'@'
		ats |= ^((y&low7 + low7) | y) & highs
	}
	for _, c := range v[i:] {
		digits += int(ctab[c]&cDigit) / cDigit
		at = at || c == '@'
	}
	return digits, at || ats != 0
}

// wordStart runs the checks for a token starting at v[i], a word byte after
// a non-word byte. It returns where scanning continues: i when nothing was
// examined.
//
// num false: v holds too few digits for number to count anything.
func (a *Analyzer) wordStart(v []byte, i int, num bool) int {
	c := v[i]
	if isDigit(c) {
		if !num {
			return i
		}
		return a.number(v, i)
	}
	rest := v[i:]
	switch c {
	case 'A':
		if bytes.HasPrefix(rest, []byte("AKIA")) || bytes.HasPrefix(rest, []byte("ASIA")) {
			e := span(v, i+4, cUpper|cDigit, 17)
			if e-i-4 == 16 && !continues(v, e, cWord) {
				a.counts[CloudSecret]++
			}
			return e
		}
		if bytes.HasPrefix(rest, []byte("AIza")) {
			e := span(v, i+4, cB64URL, 36)
			if e-i-4 == 35 && !continues(v, e, cB64URL) {
				a.counts[CloudSecret]++
			}
			return e
		}
		if j := a.awsText(v, i); j > i {
			return j
		}
	case 'S':
		if bytes.HasPrefix(rest, []byte("SG.")) {
			e := span(v, i+3, cB64URL, 23)
			if e-i-3 != 22 || e >= len(v) || v[e] != '.' {
				return e
			}
			f := span(v, e+1, cB64URL, 44)
			if f-e-1 == 43 && !continues(v, f, cB64URL) {
				a.counts[CloudSecret]++
			}
			return f
		}
	case 'a':
		return a.awsText(v, i)
	case 'e':
		return a.jwt(v, i)
	case 'g':
		switch {
		case len(rest) > 4 && rest[0] == 'g' && rest[1] == 'h' && rest[3] == '_' && bytes.IndexByte([]byte("pousr"), rest[2]) >= 0:
			return a.token(v, i, 4, cAlnum, 30)
		case bytes.HasPrefix(rest, []byte("github_pat_")):
			return a.token(v, i, 11, cWord, 22)
		case bytes.HasPrefix(rest, []byte("glpat-")):
			return a.token(v, i, 6, cB64URL, 20)
		}
	case 'n':
		if bytes.HasPrefix(rest, []byte("npm_")) {
			e := span(v, i+4, cAlnum, 37)
			if e-i-4 == 36 && !continues(v, e, cWord) {
				a.counts[CloudSecret]++
			}
			return e
		}
	case 'r':
		if bytes.HasPrefix(rest, []byte("rk_live_")) {
			return a.token(v, i, 8, cAlnum, 16)
		}
	case 's':
		if bytes.HasPrefix(rest, []byte("sk_live_")) {
			return a.token(v, i, 8, cAlnum, 16)
		}
		if bytes.HasPrefix(rest, []byte("sk-")) {
			e := span(v, i+3, cB64URL, 256)
			if e-i-3 >= 32 && !continues(v, e, cB64URL) && mixed(v[i+3:e]) {
				a.counts[CloudSecret]++
			}
			return e
		}
	case 'x':
		if len(rest) > 5 && rest[1] == 'o' && rest[2] == 'x' && rest[4] == '-' && bytes.IndexByte([]byte("abprs"), rest[3]) >= 0 {
			return a.token(v, i, 5, cB64URL, 10)
		}
	}
	if c >= 'A' && c <= 'Z' {
		return a.iban(v, i)
	}
	return i
}

// token counts a CloudSecret of prefix length pre followed by at least minLen
// bytes of class cls, and returns its end.
func (a *Analyzer) token(v []byte, i, pre int, cls uint8, minLen int) int {
	e := span(v, i+pre, cls, 256)
	if e-i-pre >= minLen && !continues(v, e, cWord|cls) {
		a.counts[CloudSecret]++
	}
	return e
}

// continues reports whether v[p] is a byte of class cls.
func continues(v []byte, p int, cls uint8) bool {
	return p < len(v) && ctab[v[p]]&cls != 0
}

// mixed reports a token with upper case, lower case and digits: a random
// key rather than a slug.
func mixed(t []byte) bool {
	var u, l, d bool
	for _, c := range t {
		switch {
		case c >= 'A' && c <= 'Z':
			u = true
		case c >= 'a' && c <= 'z':
			l = true
		case isDigit(c):
			d = true
		}
	}
	return u && l && d
}

// awsText counts an AWS secret access key written after a name starting
// "aws_secret" (any case) and up to four quote, '=', ':' or blank bytes.
func (a *Analyzer) awsText(v []byte, i int) int {
	const name = "aws_secret"
	if len(v)-i < len(name) || !bytes.EqualFold(v[i:i+len(name)], []byte(name)) {
		return i
	}
	e := span(v, i, cWord, 64)
	p := e
	for k := 0; k < 4 && p < len(v) && bytes.IndexByte([]byte("\"'=: \t"), v[p]) >= 0; k++ {
		p++
	}
	t := span(v, p, cB64, 41)
	if t-p == 40 && !continues(v, t, cB64|cWord) {
		a.counts[CloudSecret]++
		return t
	}
	return e
}

// awsSecret reports a 40-byte [A-Za-z0-9/+] value (under an AWS key).
func awsSecret(v []byte) bool {
	return len(v) == 40 && span(v, 0, cB64, 40) == 40
}

var pemBegin = []byte("-----BEGIN ")

// pem counts a PEM private key header at v[i].
func (a *Analyzer) pem(v []byte, i int) int {
	if !bytes.HasPrefix(v[i:], pemBegin) {
		return i
	}
	p := i + len(pemBegin)
	lim := min(len(v), p+64)
	k := bytes.Index(v[p:lim], []byte("-----"))
	if k < 0 {
		return p
	}
	if bytes.Contains(v[p:p+k], []byte("PRIVATE KEY")) {
		a.counts[PrivateKey]++
	}
	return p + k + 5
}

// jwt counts a JWT (or JWE) starting "eyJ" at v[i] whose header decodes to
// JSON with "alg".
func (a *Analyzer) jwt(v []byte, i int) int {
	n := len(v)
	if !bytes.HasPrefix(v[i:], []byte("eyJ")) {
		return i
	}
	e1 := span(v, i, cB64URL, n)
	if e1-i < 10 || e1 >= n || v[e1] != '.' {
		return e1
	}
	e := span(v, e1+1, cB64URL, n)
	if e == e1+1 || e >= n || v[e] != '.' {
		return e
	}
	e = span(v, e+1, cB64URL, n) // the signature: empty for alg "none"
	if e < n && v[e] == '.' {    // JWE: five parts
		e = span(v, e+1, cB64URL, n)
		if e >= n || v[e] != '.' {
			return e
		}
		e = span(v, e+1, cB64URL, n)
		if e < n && v[e] == '.' {
			return e
		}
	}
	h := v[i:e1]
	if max := len(a.jwtBuf) / 3 * 4; len(h) > max {
		h = h[:max]
	}
	h = h[:len(h)/4*4]
	if m, err := base64.RawURLEncoding.Decode(a.jwtBuf[:], h); err == nil &&
		m > 0 && a.jwtBuf[0] == '{' && bytes.Contains(a.jwtBuf[:m], []byte(`"alg"`)) {
		a.counts[JWT]++
	}
	return e
}

// email counts an address around the '@' at v[at] and returns its end.
func (a *Analyzer) email(v []byte, at int) int {
	n := len(v)
	s := at
	for s > 0 && at-s <= 64 && ctab[v[s-1]]&cLocal != 0 {
		s--
	}
	if s == at || at-s > 64 || v[s] == '.' || v[at-1] == '.' || bytes.Contains(v[s:at], []byte("..")) {
		return at
	}
	p, labels, tld := at+1, 0, 0
	for p-at <= 254 {
		ls := p
		p = span(v, p, cLabel, 64)
		if p == ls || p-ls > 63 || v[ls] == '-' || v[p-1] == '-' {
			return at
		}
		labels++
		tld = ls
		if p+1 < n && v[p] == '.' && ctab[v[p+1]]&cLabel != 0 {
			p++
			continue
		}
		break
	}
	if labels < 2 || p-tld < 2 || continues(v, p, cWord) || p < n && v[p] == '@' {
		return at
	}
	for _, c := range v[tld:p] {
		if ctab[c]&cAlnum == 0 || isDigit(c) || c == '-' {
			return at
		}
	}
	if fileExt(v[tld:p]) {
		return at
	}
	a.counts[Email]++
	return p
}

// fileExt reports TLD-like file extensions seen after '@' in asset names
// (icon@2x.png).
func fileExt(t []byte) bool {
	if len(t) > 5 {
		return false
	}
	var low [5]byte
	for k, c := range t {
		low[k] = c | 0x20 // letters only
	}
	switch string(low[:len(t)]) {
	case "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "js", "css", "html", "json", "map", "woff", "woff2", "ttf", "pdf":
		return true
	}
	return false
}

// A digit group of a number-like run, and the separator before it: ' ',
// '-', '.', '/', ')' (for ")" or ") "), '(' (for " (").
type group struct {
	s, e int
	sep  byte
}

// numMemo keeps the groups of the last number that failed.
type numMemo struct {
	base *byte // &v[0] of the text they are in
	n    int   // len(v)
	g    [maxGroups]group
	ng   int
	more bool
}

const maxGroups = 6

// number checks the digit run at v[i] ('+', '(' or a digit) for a phone,
// SSN or card number; it returns the end of what it counted, or i.
func (a *Analyzer) number(v []byte, i int) int {
	n := len(v)
	plus := v[i] == '+'
	p := i
	if plus {
		p++
	}
	paren := p < n && v[p] == '('
	if paren {
		p++
	}
	g, m := &a.grp, &a.memo
	var ng int
	var more bool
	if m.ng > 1 && !plus && !paren && m.n == n && m.base == &v[0] && m.g[1].s == i {
		// The number before failed; its groups from the second on are this
		// one's: reuse them, so that a long run is parsed once.
		ng, more = copy(g[:], m.g[1:m.ng]), m.more
		g[0].sep = 0
		if !firstGroupOK(v[g[0].s:g[0].e], false) {
			m.ng = 0
			return i
		}
		if more {
			ng, more = parseGroups(v, g, ng)
		}
	} else {
		s := p
		for p < n && isDigit(v[p]) {
			p++
		}
		if p == s || !plus && !firstGroupOK(v[s:p], paren) {
			return i
		}
		g[0] = group{s: s, e: p}
		ng, more = parseGroups(v, g, 1)
	}
	if j := a.classify(v, i, ng, plus, paren); j > i {
		m.ng = 0
		return j
	}
	if !plus && !paren {
		m.base, m.n, m.g, m.ng, m.more = &v[0], n, *g, ng, more
	}
	return i
}

// parseGroups parses the digit groups after the ng in g; more reports that
// it stopped at maxGroups.
func parseGroups(v []byte, g *[maxGroups]group, ng int) (int, bool) {
	n := len(v)
	for p := g[ng-1].e; ; {
		if ng == maxGroups {
			return ng, true
		}
		if p >= n {
			return ng, false
		}
		sep, q := v[p], p+1
		switch sep {
		case ' ', '-', '.', '/':
			if sep == ' ' && q < n && v[q] == '(' {
				sep, q = '(', q+1
			}
		case ')':
			if q < n && v[q] == ' ' {
				q++
			}
		default:
			return ng, false
		}
		if q >= n || !isDigit(v[q]) {
			return ng, false
		}
		p = q
		for p < n && isDigit(v[p]) {
			p++
		}
		g[ng] = group{s: q, e: p, sep: sep}
		ng++
	}
}

// classify counts the phone, SSN or card number in groups g[:ng] of the
// run at v[i] and returns its end, or i.
func (a *Analyzer) classify(v []byte, i, ng int, plus, paren bool) int {
	n, g := len(v), &a.grp
	td := 0
	for k := 0; k < ng; k++ {
		td += g[k].e - g[k].s
	}
	if td < 9 || td < 10 && (plus || paren) { // shorter than anything counted
		return i
	}
	after := func(k int) bool { return !continues(v, g[k].e, cWord) }
	size := func(k int) int { return g[k].e - g[k].s }

	if plus {
		d, best := 0, -1
		for k := 0; k < ng; k++ {
			if d += size(k); d > 15 {
				break
			}
			if d >= 10 && after(k) {
				best = k
			}
		}
		if best < 0 {
			return i
		}
		a.counts[Phone]++
		return g[best].e
	}
	if !paren {
		// SSN: AAA-GG-SSSS.
		if ng >= 3 && size(0) == 3 && size(1) == 2 && size(2) == 4 && g[1].sep == '-' && g[2].sep == '-' &&
			after(2) && (ng == 3 || g[3].sep != '-') {
			if ssnOK(v[g[0].s:g[0].e], v[g[1].s:g[1].e], v[g[2].s:g[2].e]) {
				a.counts[SSN]++
				return g[2].e
			}
		}
		// Card: 13–19 digits, in one group or in the printed groupings
		// (4-4-4-4[-1..4], 4-6-5, 4-6-4) split by one kind of single
		// separator, not followed by that separator and more (a UUID).
		cardEnd := func(k int) bool {
			if !after(k) {
				return false
			}
			if k == 0 {
				return true
			}
			if e := g[k].e; e+1 < n && v[e] == g[1].sep && ctab[v[e+1]]&cAlnum != 0 {
				return false
			}
			if k == 2 && size(0) == 4 && size(1) == 6 && (size(2) == 5 || size(2) == 4) {
				return true
			}
			for m := 0; m < k; m++ {
				if size(m) != 4 {
					return false
				}
			}
			return size(k) <= 4
		}
		var d [19]byte
		nd := 0
		for k := 0; k < ng; k++ {
			if k > 0 && (g[k].sep != g[1].sep || g[k].sep != ' ' && g[k].sep != '-') {
				break
			}
			if nd+size(k) > len(d) {
				break
			}
			nd += copy(d[nd:], v[g[k].s:g[k].e])
			if nd >= 13 && cardEnd(k) && cardOK(d[:nd]) {
				// The longest valid number wins.
				best := k
				for m, md := k+1, nd; m < ng && g[m].sep == g[1].sep && md+size(m) <= len(d); m++ {
					md += copy(d[md:], v[g[m].s:g[m].e])
					if md >= 13 && cardEnd(m) && cardOK(d[:md]) {
						best = m
					}
				}
				a.counts[Card]++
				return g[best].e
			}
		}
	}
	// North American: [1 ](AAA) EEE-NNNN, AAA-EEE-NNNN, AAA.EEE.NNNN, AAA EEE NNNN.
	for off := 0; off <= 1 && off+3 <= ng; off++ {
		if off == 1 && (paren || size(0) != 1 || v[g[0].s] != '1') {
			break
		}
		a0, e0, n0 := off, off+1, off+2
		if size(a0) != 3 || size(e0) != 3 || size(n0) != 4 || !after(n0) ||
			v[g[a0].s] < '2' || v[g[e0].s] < '2' {
			continue
		}
		sep := g[n0].sep
		if sep != '-' && sep != '.' && sep != ' ' {
			continue
		}
		ok := g[e0].sep == sep
		if (off == 0 && paren) || (off == 1 && g[a0].sep == '(') {
			ok = g[e0].sep == ')'
		}
		if off == 1 && g[a0].sep != '(' && g[a0].sep != sep {
			ok = false
		}
		if ok && (ng == n0+1 || g[n0+1].sep == ' ') {
			a.counts[Phone]++
			return g[n0].e
		}
	}
	// National with a trunk 0: 10–11 digits in 2–5 groups of 2+.
	if !paren && v[g[0].s] == '0' && ng >= 2 && size(0) <= 5 {
		d := size(0)
		for k := 1; k < ng && k < 5; k++ {
			if size(k) < 2 || g[k].sep != g[1].sep || g[k].sep != ' ' && g[k].sep != '.' && g[k].sep != '-' {
				break
			}
			if d += size(k); d > 11 {
				break
			}
			if d >= 10 && after(k) && (k == ng-1 || g[k+1].sep != g[k].sep) {
				a.counts[Phone]++
				return g[k].e
			}
		}
	}
	return i
}

// firstGroupOK reports whether a number starting with digit group d can
// be counted (not after '+'): SSN and North American numbers start with 3
// digits or a lone 1, grouped cards with 4, bare cards with 13+, national
// numbers with 0.
func firstGroupOK(d []byte, paren bool) bool {
	switch n := len(d); {
	case paren:
		return n == 3
	case n == 3, n == 4, n >= 13:
		return true
	case n == 1 && d[0] == '1':
		return true
	}
	return d[0] == '0' && len(d) <= 5
}

// cardOK checks a card number's issuer prefix, length, digits and Luhn sum.
func cardOK(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	var ok bool
	switch {
	case d[0] == '4':
		ok = n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		ok = n == 16
	case p2 == 34, p2 == 37:
		ok = n == 15
	case p4 == 6011, p2 == 65, p4/10 >= 644 && p4/10 <= 649, p4 >= 3528 && p4 <= 3589:
		ok = n >= 16
	}
	if !ok {
		return false
	}
	same := true
	for _, c := range d[1:] {
		if c != d[0] {
			same = false
			break
		}
	}
	if same {
		return false
	}
	sum := 0
	for k := n - 1; k >= 0; k-- {
		x := int(d[k] - '0')
		if (n-1-k)&1 == 1 {
			if x *= 2; x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// ssnOK applies the SSA rules: area not 000, 666 or 9xx; group not 00;
// serial not 0000.
func ssnOK(area, grp, serial []byte) bool {
	return string(area) != "000" && string(area) != "666" && area[0] != '9' &&
		string(grp) != "00" && string(serial) != "0000"
}

// ssnValue reports a value under an SSN key: AAA-GG-SSSS, AAA GG SSSS or 9
// digits, valid by ssnOK.
func ssnValue(v []byte) bool {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 9 && span(v, 0, cDigit, 9) == 9:
		return ssnOK(v[:3], v[3:5], v[5:])
	case len(v) == 11 && (v[3] == '-' && v[6] == '-' || v[3] == ' ' && v[6] == ' ') &&
		span(v, 0, cDigit, 3) == 3 && span(v, 4, cDigit, 2) == 6 && span(v, 7, cDigit, 4) == 11:
		return ssnOK(v[:3], v[4:6], v[7:])
	}
	return false
}

// phoneValue reports a value under a phone key: only digits, blanks, "-./()"
// and a leading '+', with 7–15 digits.
func phoneValue(v []byte) bool {
	v = bytes.TrimSpace(v)
	d := 0
	for k, c := range v {
		switch {
		case isDigit(c):
			d++
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')':
		case c == '+' && k == 0:
		default:
			return false
		}
	}
	return d >= 7 && d <= 15
}

// credential reports a non-empty value that is not masked ("****",
// "•••", "xxxx", "[REDACTED]", "null", …).
func credential(v []byte) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return false
	}
	masked := true
	for _, c := range v {
		if bytes.IndexByte([]byte("*xX#•·.-_ "), c) < 0 { // the bytes of • and · too
			masked = false
			break
		}
	}
	if masked {
		return false
	}
	if len(v) > 2 && (v[0] == '[' || v[0] == '<' || v[0] == '(' || v[0] == '{') {
		v = v[1 : len(v)-1]
	}
	if len(v) <= 10 {
		var low [10]byte
		for k, c := range v {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			low[k] = c
		}
		switch string(low[:len(v)]) {
		case "null", "nil", "none", "undefined", "redacted", "filtered", "hidden", "masked", "removed", "n/a", "secret", "password":
			return false
		}
	}
	return true
}

// IBAN lengths by country (ISO 13616 registry, the common countries).
var ibanLen = func() (t [26 * 26]uint8) {
	const list = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 CH21 CR22 CY28 CZ24 DE22 DK18 " +
		"DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 " +
		"IS26 IT27 JO30 KW30 KZ20 LB28 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 " +
		"NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SE24 SI19 SK24 SM27 TN24 TR26 UA29 " +
		"VG24 XK20"
	for k := 0; k+4 <= len(list); k += 5 {
		t[int(list[k]-'A')*26+int(list[k+1]-'A')] = (list[k+2]-'0')*10 + list[k+3] - '0'
	}
	return t
}()

// iban counts an IBAN at v[i] (an upper-case letter at a word start).
func (a *Analyzer) iban(v []byte, i int) int {
	n := len(v)
	if n-i < 15 || v[i+1] < 'A' || v[i+1] > 'Z' || !isDigit(v[i+2]) || !isDigit(v[i+3]) {
		return i
	}
	l := int(ibanLen[int(v[i]-'A')*26+int(v[i+1]-'A')])
	if l == 0 {
		return i
	}
	var buf [34]byte
	copy(buf[:4], v[i:i+4])
	p := i + 4
	spaced := v[p] == ' '
	for k := 4; k < l; k++ {
		if spaced && k%4 == 0 {
			if p >= n || v[p] != ' ' {
				return i
			}
			p++
		}
		if p >= n || ctab[v[p]]&(cUpper|cDigit) == 0 {
			return i
		}
		buf[k] = v[p]
		p++
	}
	if continues(v, p, cWord) {
		return i
	}
	if mod97(buf[:4], mod97(buf[4:l], 0)) != 1 { // BBAN first, then country and check digits
		return i
	}
	a.counts[IBAN]++
	return p
}

// mod97 continues the ISO 7064 remainder r over s (letters count as
// 10–35).
func mod97(s []byte, r int) int {
	for _, c := range s {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	return r
}

// form walks an application/x-www-form-urlencoded body: names as fields,
// values scanned (when scan) with what their names say.
func (a *Analyzer) form(b []byte, scan bool) {
	root := frame{pid: pidRoot}
	for slot := 0; len(b) > 0; slot++ {
		pair := b
		if k := bytes.IndexByte(b, '&'); k >= 0 {
			pair, b = b[:k], b[k+1:]
		} else {
			b = nil
		}
		name, val := pair, []byte(nil)
		if k := bytes.IndexByte(pair, '='); k >= 0 {
			name, val = pair[:k], pair[k+1:]
		}
		if len(name) == 0 {
			continue
		}
		a.kbuf = unescapeForm(a.kbuf[:0], name)
		_, flags := a.keyPath(&root, a.kbuf, 0, slot)
		if scan && len(val) > 0 {
			a.buf = unescapeForm(a.buf[:0], val)
			a.scanValue(a.buf, flags)
		}
	}
}

// unescapeForm appends s with '+' as space and %XX decoded (a bad escape is
// kept as is).
func unescapeForm(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0:
			dst = append(dst, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
