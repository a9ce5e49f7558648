// Package content tells what an HTTP body reveals — its shape (JSON field
// paths, record count) and how many values of each sensitive-data class it
// holds — without ever returning a value from it.
//
// It works on the decoded prefix the sensor kept (possibly cut mid-document),
// in time linear in the bytes examined and, once an Analyzer is warm, without
// allocating. The JSON walker is hand-written: encoding/json allocates per
// token and cannot report on a truncated document. The sensitive-data
// scanners are hand-written too (no regexp): each class is validated
// (Luhn, mod-97, SSN area rules, a decoded JWT header, …), see Class.
package content

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
)

// Class is a sensitive-data class. Its event.SensitiveClass is int32(c)+1.
type Class uint8

// The classes, with the rule each counted value passed.
const (
	// Email: local@domain.tld — a local part of [A-Za-z0-9._%+-] (1–64,
	// no leading, trailing or doubled dot), two or more labels of
	// [A-Za-z0-9-] (no leading or trailing '-'), a TLD of 2+ letters that is
	// not a file extension (icon@2x.png).
	Email Class = iota
	// Phone: '+' then 10–15 digits in groups separated by single ' ', '-',
	// '.', '/' or parentheses; or a North American number with separators
	// ("(415) 555-2671", "415-555-2671", "415.555.2671", "1 415 555 2671",
	// area and exchange starting 2–9); or a national number starting with 0,
	// 10–11 digits in 2–5 space/dot/dash separated groups ("020 7946 0958",
	// "06 12 34 56 78"); or, under a phone-like key (phone, mobile, tel,
	// fax, msisdn, …), any value of only digits and separators with 7–15
	// digits. Bare digit runs elsewhere are never phones.
	Phone
	// Card: 13–19 digits, optionally grouped by single spaces or single
	// dashes (one kind per number), a known IIN with its lengths (Visa 4:
	// 13/16/19; Mastercard 51–55, 2221–2720: 16; Amex 34/37: 15; Discover
	// 6011, 644–649, 65: 16–19; JCB 3528–3589: 16–19), not all one digit,
	// Luhn valid.
	Card
	// SSN: US social security number AAA-GG-SSSS with the dashes; area not
	// 000, 666 or 9xx, group not 00, serial not 0000. Under an ssn-like key
	// also 9 bare digits or space separated.
	SSN
	// IBAN: two capital letters of a country in the length table, two check
	// digits, a BBAN of capitals and digits making the country's length
	// (optionally printed in groups of four separated by single spaces),
	// and the ISO 7064 mod-97 remainder is 1.
	IBAN
	// JWT: "eyJ", three (or five: JWE) base64url parts separated by dots,
	// the first decoding to a JSON object holding "alg".
	JWT
	// PrivateKey: a PEM header "-----BEGIN <label>-----" whose label
	// contains "PRIVATE KEY" (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP …).
	PrivateKey
	// CloudSecret: a provider credential recognised by prefix, length and
	// charset — AWS access key ids AKIA/ASIA + 16 [A-Z0-9]; AWS secret keys
	// (40 [A-Za-z0-9/+]) under a key named like aws_secret or
	// secret_access_key, or in text right after such a name; GitHub ghp_,
	// gho_, ghu_, ghs_, ghr_ + 30+ alphanumerics and github_pat_ + 22+; GitLab
	// glpat- + 20+; Slack xoxa-/xoxb-/xoxp-/xoxr-/xoxs- + 10+; Stripe
	// sk_live_/rk_live_ + 16+ (test keys are not counted); Google AIza + 35;
	// SendGrid SG.<22>.<43>; npm npm_ + 36; OpenAI/Anthropic-style sk- +
	// 32+ base64url with upper, lower and digits.
	CloudSecret
	// PasswordField: a key or form field named like a password (password,
	// passwd, passphrase, pwd, a last word "pass"; not metadata such as
	// password_changed_at, password_policy, password_hint) holding a
	// non-empty, unmasked string or number.
	PasswordField
	// SecretField: a key or form field named like a credential (api_key,
	// access_token, refresh_token, id_token, auth_token, client_secret,
	// private_key, secret_key, secret, token, credential, …; not pagination
	// or CSRF tokens such as next_page_token) holding a non-empty, unmasked
	// string or number.
	SecretField

	NumClasses // the number of classes
)

var classNames = [NumClasses]string{
	"email", "phone", "card", "ssn", "iban", "jwt", "private_key",
	"cloud_secret", "password_field", "secret_field",
}

// String returns the class name used in events and configs ("email", …).
func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return "unknown"
}

// Counts holds how many values of each class a body held, indexed by Class.
type Counts [NumClasses]uint32

// Formats of Shape.Format.
const (
	FormatJSON  = "json"
	FormatForm  = "form"
	FormatOther = "other"
)

// Shape is what a body's structure reveals.
type Shape struct {
	// Fields holds the distinct field paths, sorted: object keys joined by
	// ".", array elements as "[]" ("data[].email"); keys that look like
	// identifiers (all digits, UUIDs, long hex) as "{id}"; keys longer than
	// 64 bytes cut and ended with "…"; never more than Config.MaxFields.
	// For forms, the field names. The strings are shared and immutable.
	Fields []string
	// FieldsDropped counts the distinct paths left out of Fields because
	// Config.MaxFields was reached.
	FieldsDropped int
	// Records is the number of top-level records: the top-level array's
	// length, or the length of the array under a wrapper key (data, items,
	// results, records, users, rows, hits, entries, content) or under the
	// only top-level key holding an array of objects (unless the object has
	// an id, _id, uuid or guid key: an entity with a list inside), else 1
	// for an object; for NDJSON the
	// number of lines; -1 when unknown (not JSON, empty, a scalar). For a
	// truncated document it counts the elements seen: a lower bound.
	Records int64
	// Truncated: only a prefix of the body was analysed.
	Truncated bool
	// Malformed: the body was declared or sniffed as JSON but is not; the
	// part after the error was scanned as text.
	Malformed bool
	// Format is FormatJSON, FormatForm or FormatOther.
	Format string
}

// Config bounds the work per body. The zero value is usable.
type Config struct {
	// MaxFields caps Shape.Fields and ParamNames; default 256.
	MaxFields int
	// MaxDepth caps the JSON nesting walked for field paths; deeper values
	// are still scanned for sensitive data. Default 16.
	MaxDepth int
	// MaxWalkBytes caps the bytes of a JSON body walked for field paths
	// and records; default 64 KiB.
	MaxWalkBytes int
	// MaxScanBytes caps the bytes per body whose values are scanned for
	// sensitive data (and of form and other bodies, everything); default
	// 16 KiB. Scanning costs several times what walking does, and the
	// classes a list of records holds show in its first records: beyond
	// that a large body is walked (for its fields and record count) but
	// its values are not scanned, so its counts are those of the first
	// MaxScanBytes.
	MaxScanBytes int
	// MaxCachedPaths caps the Analyzer's cache of field paths (shared
	// across bodies so that warm calls do not allocate); when full it is
	// emptied. Default 8192 (about 1 MiB).
	MaxCachedPaths int
}

// Defaults, applied at NewAnalyzer for zero fields.
const (
	DefaultMaxFields      = 256
	DefaultMaxDepth       = 16
	DefaultMaxWalkBytes   = 64 << 10
	DefaultMaxScanBytes   = 16 << 10
	DefaultMaxCachedPaths = 8192

	maxKeyLen = 64 // bytes of a key kept in a field path
)

// Analyzer analyses bodies. It keeps its buffers between calls, so warm
// calls do not allocate. Not safe for concurrent use: one per worker.
type Analyzer struct {
	cfg Config

	stack  []frame
	path   []byte
	buf    []byte // unescaped JSON strings, decoded form values
	kbuf   []byte // decoded form names
	counts *Counts
	sink   Counts // counts of ParamNames, never read
	jwtBuf [258]byte
	grp    [maxGroups]group
	memo   numMemo

	// Field-path cache: path → index into paths. gen marks the paths
	// already reported for the current body.
	pathIDs   map[string]int32
	paths     []pathEntry
	gen       uint32
	lastID    int32      // the id addPath found or made
	slotCache [256]int32 // id+1 by (depth, key position); see keyPath
	// keyTab: id+1 of the path made by a key in a context (pid, arr; see
	// frame), open addressing by keyHash, at most half full. Each path is
	// in it at most once, under the raw key that made it (pathEntry.raw).
	keyTab []int32

	// order: the ids marked for this body, in order; a body marking the
	// same ids as the last sorted one reuses its sorted fields.
	order, prevOrder []int32
	prevSorted       []string
	prevOK           bool
	forgot           bool // the cache was emptied during this body
	// earlier: the paths this body reported before the cache was emptied,
	// which must not count again when they come back under new ids.
	earlier map[string]struct{}

	// Per-body results of the walker.
	fields  []string
	dropped int
	root    rootInfo
}

type pathEntry struct {
	s     string
	raw   string // the raw key that made s in context (pid, arr)
	pid   int32  // pidNone: not in keyTab
	arr   int32
	flags uint8 // hint bits, fWrapper
	gen   uint32
}

// Context ids besides path ids: the root, a context whose ids were
// forgotten (the cache was emptied), an entry not in keyTab.
const (
	pidRoot  = -1
	pidStale = -2
	pidNone  = -3

	maxRawKey = 128 // longer keys are not put in keyTab
)

// NewAnalyzer returns an Analyzer with cfg's zero fields defaulted.
func NewAnalyzer(cfg Config) *Analyzer {
	if cfg.MaxFields <= 0 {
		cfg.MaxFields = DefaultMaxFields
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxWalkBytes <= 0 {
		cfg.MaxWalkBytes = DefaultMaxWalkBytes
	}
	if cfg.MaxScanBytes <= 0 {
		cfg.MaxScanBytes = DefaultMaxScanBytes
	}
	if cfg.MaxCachedPaths <= 0 {
		cfg.MaxCachedPaths = DefaultMaxCachedPaths
	}
	tab := 16
	for tab < 2*cfg.MaxCachedPaths {
		tab <<= 1
	}
	return &Analyzer{
		cfg:     cfg,
		stack:   make([]frame, 0, cfg.MaxDepth),
		pathIDs: make(map[string]int32),
		keyTab:  make([]int32, tab),
	}
}

// Analyze fills shape and counts for one body: body is the decoded prefix
// kept (truncated when the body went on), contentType the Content-Type
// header value. shape.Fields' backing array is reused. No raw value of the
// body is kept or returned.
func (a *Analyzer) Analyze(body []byte, contentType string, truncated bool, shape *Shape, counts *Counts) {
	*counts = Counts{}
	a.counts = counts
	a.begin(shape.Fields[:0])
	*shape = Shape{Records: -1, Truncated: truncated}
	f, seq := format(contentType, body)
	limit := a.cfg.MaxScanBytes
	if f == FormatJSON {
		limit = a.cfg.MaxWalkBytes
	}
	if len(body) > limit {
		body = body[:limit]
		shape.Truncated = true
	}
	switch f {
	case FormatJSON:
		shape.Format = FormatJSON
		if !a.walkJSON(body, seq, shape) {
			shape.Malformed = true
		}
	case FormatForm:
		shape.Format = FormatForm
		a.form(body, true)
	default:
		shape.Format = FormatOther
		a.scanText(body)
	}

	if a.prevOK && slices.Equal(a.order, a.prevOrder) {
		// The same fields as the last body: its sorted list.
		shape.Fields = a.fields[:copy(a.fields, a.prevSorted)]
	} else {
		slices.Sort(a.fields)
		shape.Fields = slices.Compact(a.fields)
		a.prevSorted = append(a.prevSorted[:0], shape.Fields...)
		a.order, a.prevOrder = a.prevOrder, a.order
		a.prevOK = !a.forgot
	}
	shape.FieldsDropped = a.dropped
	a.fields = nil
	a.counts = nil
	a.memo = numMemo{} // do not pin the body
}

// ParamNames appends to dst the request body's parameter names — the
// top-level keys of a JSON object, the field names of a form — distinct, in
// order of appearance, at most Config.MaxFields, normalized like field
// paths. Other bodies add nothing.
func (a *Analyzer) ParamNames(body []byte, contentType string, dst []string) []string {
	if len(body) > a.cfg.MaxWalkBytes {
		body = body[:a.cfg.MaxWalkBytes]
	}
	a.counts = &a.sink
	a.begin(dst)
	switch f, _ := format(contentType, body); f {
	case FormatJSON:
		a.topKeys(body)
	case FormatForm:
		a.form(body, false)
	}
	dst = a.fields
	a.fields = nil
	a.counts = nil
	return dst
}

func (a *Analyzer) begin(fields []string) {
	a.fields = fields
	a.dropped = 0
	a.root = rootInfo{}
	a.order = a.order[:0]
	if a.forgot {
		clear(a.earlier)
		a.forgot = false
	}
	a.gen++
	if a.gen == 0 { // wrapped: forget every mark
		for i := range a.paths {
			a.paths[i].gen = 0
		}
		a.gen = 1
	}
}

// keyPath reports the field path made by key in top's context (the slot-th
// key of an object at depth) and returns its id and flags. Records in an
// array repeat their keys in order, so a small cache by position answers
// most lookups, and keyTab most others, without building the path.
func (a *Analyzer) keyPath(top *frame, key []byte, depth, slot int) (int32, uint8) {
	pid, arr := top.pid, top.arr
	if pid >= pidRoot && len(key) <= maxRawKey {
		h := (depth*61 + slot) & (len(a.slotCache) - 1)
		if id := a.slotCache[h]; id > 0 && int(id) <= len(a.paths) {
			if e := &a.paths[id-1]; e.pid == pid && e.arr == arr && e.raw == string(key) {
				return id - 1, a.mark(id - 1)
			}
		}
		mask := uint32(len(a.keyTab) - 1)
		for j := keyHash(pid, arr, key) & mask; ; j = (j + 1) & mask {
			id := a.keyTab[j]
			if id == 0 {
				break
			}
			if e := &a.paths[id-1]; e.pid == pid && e.arr == arr && e.raw == string(key) {
				a.slotCache[h] = id
				return id - 1, a.mark(id - 1)
			}
		}
	}
	// Build the path.
	a.path = append(a.path[:0], top.prefix...)
	for range arr {
		a.path = append(a.path, "[]"...)
	}
	if len(a.path) > 0 {
		a.path = append(a.path, '.')
	}
	a.path = appendKey(a.path, key)
	f := a.addPath(key)
	id := a.lastID
	if pid = top.pid; pid >= pidRoot && len(key) <= maxRawKey {
		if e := &a.paths[id]; e.pid == pidNone {
			// Not in keyTab yet: put it under this context and key.
			e.pid, e.arr, e.raw = pid, arr, string(key)
			mask := uint32(len(a.keyTab) - 1)
			j := keyHash(pid, arr, key) & mask
			for a.keyTab[j] != 0 {
				j = (j + 1) & mask
			}
			a.keyTab[j] = id + 1
		}
		a.slotCache[(depth*61+slot)&(len(a.slotCache)-1)] = id + 1
	}
	return id, f
}

// keyHash hashes a key in a context.
func keyHash(pid, arr int32, k []byte) uint32 {
	h := (uint64(uint32(pid))<<20 ^ uint64(uint32(arr)) ^ uint64(len(k))<<52) * 0x9e3779b97f4a7c15
	for len(k) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(k)) * 0xff51afd7ed558ccd
		h ^= h >> 32
		k = k[8:]
	}
	var t uint64
	for i, c := range k {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0xc4ceb9fe1a85ec53
	return uint32(h ^ h>>29)
}

// addPath reports a.path (whose last key is key) as a field of this body
// and returns its flags.
func (a *Analyzer) addPath(key []byte) uint8 {
	id, ok := a.pathIDs[string(a.path)]
	if !ok {
		if len(a.paths) >= a.cfg.MaxCachedPaths {
			a.forget()
		}
		id = int32(len(a.paths))
		s := string(a.path)
		a.paths = append(a.paths, pathEntry{s: s, pid: pidNone, flags: keyFlags(key, s)})
		a.pathIDs[s] = id
	}
	a.lastID = id
	return a.mark(id)
}

// forget empties the path cache. The open frames' context ids are gone
// with it.
func (a *Analyzer) forget() {
	if a.earlier == nil {
		a.earlier = make(map[string]struct{})
	}
	for _, id := range a.order {
		a.earlier[a.paths[id].s] = struct{}{}
	}
	a.order = a.order[:0] // its ids are gone
	clear(a.pathIDs)
	a.paths = a.paths[:0]
	clear(a.keyTab)
	clear(a.slotCache[:])
	a.prevOK, a.forgot = false, true
	for i := range a.stack {
		a.stack[i].pid = pidStale
	}
}

// mark reports path id as a field of this body and returns its flags.
func (a *Analyzer) mark(id int32) uint8 {
	e := &a.paths[id]
	if e.gen != a.gen {
		e.gen = a.gen
		if a.forgot {
			if _, ok := a.earlier[e.s]; ok {
				return e.flags
			}
		}
		a.order = append(a.order, id)
		if len(a.fields) < a.cfg.MaxFields {
			a.fields = append(a.fields, e.s)
		} else {
			a.dropped++
		}
	}
	return e.flags
}

// format returns the body's format from its Content-Type, sniffing JSON
// when the type is missing, text/plain or application/octet-stream; seq
// reports a JSON sequence (NDJSON, JSON Lines).
func format(contentType string, body []byte) (f string, seq bool) {
	ct := contentType
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.EqualFold(ct, "application/json"), strings.EqualFold(ct, "text/json"),
		len(ct) > 5 && strings.EqualFold(ct[len(ct)-5:], "+json"):
		return FormatJSON, false
	case strings.EqualFold(ct, "application/x-ndjson"), strings.EqualFold(ct, "application/ndjson"),
		strings.EqualFold(ct, "application/jsonl"), strings.EqualFold(ct, "application/x-jsonlines"):
		return FormatJSON, true
	case strings.EqualFold(ct, "application/x-www-form-urlencoded"):
		return FormatForm, false
	case ct == "", strings.EqualFold(ct, "text/plain"), strings.EqualFold(ct, "application/octet-stream"):
		b := bytes.TrimPrefix(body, bom)
		i := skipWS(b, 0)
		if i < len(b) && (b[i] == '{' || b[i] == '[') {
			return FormatJSON, false
		}
	}
	return FormatOther, false
}

var bom = []byte("\xef\xbb\xbf")
