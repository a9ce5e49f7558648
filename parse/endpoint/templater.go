package endpoint

import (
	"hash/maphash"
	"math/rand/v2"
	"strings"
)

// Param is one parameter extracted from a request path.
type Param struct {
	// Name is "id", "email" or "date" for inferred identifiers, "name" for
	// learned positions, the spec's name for OpenAPI parameters. It is what
	// the template shows between braces.
	Name string
	// Value is the percent-decoded value: for "12345.pdf" it is "12345".
	// It is a substring of the path passed in unless decoding changed it.
	Value string
	Type  ParamType
	// Position is the 0-based index of the segment in the normalised path
	// (empty segments skipped): 1 for "42" in "/users/42".
	Position int
}

// Defaults for the zero Config.
const (
	// DefaultLearnThreshold: a position is learned once more than 50
	// distinct non-identifier values were seen under one prefix. Real API
	// resource collections rarely have 50 literal children; a directory of
	// user names or product slugs passes 50 within minutes of traffic.
	DefaultLearnThreshold = 50
	// DefaultMaxLearnedPositions bounds the learned decisions (one uint64 each).
	DefaultMaxLearnedPositions = 10000
	// DefaultMaxTrackedPositions bounds positions still being counted; each
	// holds up to LearnThreshold 8-byte hashes: 4096×50×8 B ≈ 1.6 MiB worst case.
	DefaultMaxTrackedPositions = 4096
	// DefaultMaxTemplates bounds the intern table (templates returned as the
	// same string); an API inventory rarely passes a few thousand.
	DefaultMaxTemplates = 10000
	// DefaultMaxSegments: segments past the 32nd collapse into {rest}.
	DefaultMaxSegments = 32
	// DefaultMaxSegmentLen: a segment longer than 256 bytes collapses it and
	// what follows into {rest}.
	DefaultMaxSegmentLen = 256
)

// Config tunes a Templater. The zero value uses the defaults above.
type Config struct {
	// LearnThreshold is the number of distinct values a non-identifier
	// position may take before it becomes a {name} parameter. Negative
	// disables learning.
	LearnThreshold int
	// MaxLearnedPositions bounds the learned positions kept; once full, no
	// more are learned (Stats.LearnDropped counts the refusals).
	MaxLearnedPositions int
	// MaxTrackedPositions bounds the positions being counted toward the
	// threshold; the least recently used are forgotten (Stats.TrackEvicted).
	MaxTrackedPositions int
	// MaxTemplates bounds the intern table; when full it is emptied
	// (Stats.InternResets) and refills with the templates in use.
	MaxTemplates int
	// MaxSegments and MaxSegmentLen bound the work per path; see the
	// Default constants.
	MaxSegments   int
	MaxSegmentLen int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.LearnThreshold, DefaultLearnThreshold)
	def(&c.MaxLearnedPositions, DefaultMaxLearnedPositions)
	def(&c.MaxTrackedPositions, DefaultMaxTrackedPositions)
	def(&c.MaxTemplates, DefaultMaxTemplates)
	def(&c.MaxSegments, DefaultMaxSegments)
	def(&c.MaxSegmentLen, DefaultMaxSegmentLen)
	if c.MaxTrackedPositions < 2 {
		c.MaxTrackedPositions = 2
	}
	return c
}

// MaxTemplateLen is the longest template a Templater with cfg can return.
func (c Config) MaxTemplateLen() int {
	c = c.withDefaults()
	// each segment: '/' + at most 3 bytes per byte (percent-escaped), then "/{rest}".
	return c.MaxSegments*(1+3*c.MaxSegmentLen) + len("/{rest}")
}

// Stats counts what a Templater did. All counters only grow, except
// Templates, Learned and Tracked which are current sizes.
type Stats struct {
	Calls        uint64 // Template calls
	SpecMatched  uint64 // calls answered by a spec operation
	Shadow       uint64 // calls with a spec loaded that matched no operation
	Collapsed    uint64 // paths whose tail became {rest}
	InternResets uint64 // times the intern table was full and emptied
	LearnDropped uint64 // positions past the threshold not learned: table full
	TrackEvicted uint64 // positions forgotten before reaching a decision
	Templates    int    // templates interned now
	Learned      int    // positions learned now
	Tracked      int    // positions being counted now
}

// Templater turns requests into endpoint templates. It keeps bounded state
// (learned positions, intern table) and is not safe for concurrent use: use
// one per worker. The Spec it was given may be shared.
type Templater struct {
	cfg   Config
	spec  *Spec
	seed  uint64 // of the position and value hashes
	stats Stats

	segs   []string // raw segments of the current path
	dsegs  []string // decoded segments (spec matching)
	buf    []byte   // template being built
	intern map[string]string

	learned map[uint64]struct{}
	gen     uint64 // bumped when a position is learned: cached shapes are stale
	shapes  []shape
	// shapeSeed hashes shape keys to slots: maphash, several times faster
	// than the byte-serial FNV of position keys on keys of tens of bytes.
	shapeSeed maphash.Seed
	key       []byte              // shape key being built
	cur       map[uint64]*counter // tracked positions, recent generation
	old       map[uint64]*counter // previous generation
	free      []*counter
}

type counter struct {
	vals []uint64 // distinct value hashes, at most LearnThreshold
	full bool     // crossed the threshold while the learned table was full
}

// New returns a Templater. spec may be nil (inference only).
func New(cfg Config, spec *Spec) *Templater {
	cfg = cfg.withDefaults()
	return &Templater{
		cfg:       cfg,
		spec:      spec,
		seed:      rand.Uint64(),
		shapeSeed: maphash.MakeSeed(),
		buf:       make([]byte, 0, 256),
		intern:    make(map[string]string),
		learned:   make(map[uint64]struct{}),
		cur:       make(map[uint64]*counter),
		old:       make(map[uint64]*counter),
	}
}

// Stats returns the counters.
func (t *Templater) Stats() Stats {
	s := t.stats
	s.Templates = len(t.intern)
	s.Learned = len(t.learned)
	s.Tracked = len(t.cur) + len(t.old)
	return s
}

// Template returns the endpoint template of a request (the path part, such
// as "/v1/users/{id}"), appends the parameters it extracted to params, and
// reports shadow when a spec is loaded and no spec operation matches.
// path is the raw request target without its query (a query or fragment is
// cut off anyway; an absolute-form target loses its scheme and authority).
// The returned string is interned: the same template is the same string.
func (t *Templater) Template(method, host, path string, params []Param) (template string, _ []Param, shadow bool) {
	t.stats.Calls++
	path = trimTarget(path)
	segs, cut := splitPath(t.segs[:0], path, t.cfg.MaxSegments, t.cfg.MaxSegmentLen)
	t.segs = segs
	if t.spec != nil {
		if !cut {
			t.dsegs = decodeAll(t.dsegs[:0], segs)
			mark := len(params)
			op, node := t.spec.match(method, host, t.dsegs, &params)
			if node != nil {
				if op {
					t.stats.SpecMatched++
				} else {
					t.stats.Shadow++
				}
				return node.template, params, !op
			}
			params = params[:mark]
		}
		t.stats.Shadow++
		shadow = true
	}
	if t.spec != nil || cut {
		template, params = t.infer(host, segs, cut, params)
		return template, params, shadow
	}
	slot, ok := t.shapeKey(host, segs)
	if ok {
		if template, params, ok := t.cachedShape(slot, segs, params); ok {
			return template, params, false
		}
	}
	mark := len(params)
	template, params = t.infer(host, segs, cut, params)
	if ok {
		t.cacheShape(slot, segs, template, params[mark:])
	}
	return template, params, false
}

// trimTarget cuts a query and fragment and an absolute-form prefix
// (OriginPath).
func trimTarget(p string) string {
	// A loop, not strings.IndexAny: for two bytes it is several times
	// cheaper than building IndexAny's byte set on every call.
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			p = p[:i]
			break
		}
	}
	return OriginPath(p)
}

// OriginPath returns the path of an absolute-form target
// ("http://host/v1/x" → "/v1/x", "/" when it names no path) and any other
// target as it is. Origin-form targets, by far the most common, start with
// '/' and skip the search, so a "://" inside a path stays part of it.
func OriginPath(p string) string {
	if len(p) > 0 && p[0] != '/' {
		if i := strings.Index(p, "://"); i > 0 && i < 10 {
			p = p[i+3:]
			if j := strings.IndexByte(p, '/'); j >= 0 {
				return p[j:]
			}
			return "/"
		}
	}
	return p
}

// splitPath appends the non-empty segments of p to dst, at most maxSegs;
// cut reports that more segments, or one longer than maxLen, were dropped.
func splitPath(dst []string, p string, maxSegs, maxLen int) (_ []string, cut bool) {
	for len(p) > 0 {
		i := strings.IndexByte(p, '/')
		var s string
		if i < 0 {
			s, p = p, ""
		} else {
			s, p = p[:i], p[i+1:]
		}
		if s == "" {
			continue
		}
		if len(dst) == maxSegs || len(s) > maxLen {
			return dst, true
		}
		dst = append(dst, s)
	}
	return dst, false
}

func decodeAll(dst, segs []string) []string {
	for _, s := range segs {
		dst = append(dst, pctDecode(s))
	}
	return dst
}

// pctDecode decodes %XX escapes; invalid escapes stay as they are. It
// allocates only when s holds a valid escape.
func pctDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b []byte
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			if b == nil {
				b = make([]byte, 0, len(s))
				b = append(b, s[:i]...)
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		if b != nil {
			b = append(b, s[i])
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// appendLiteral appends a decoded segment in canonical form: bytes that are
// safe in a path segment as they are, everything else (including '/', '%',
// '{', '}', spaces, controls and non-ASCII) percent-escaped.
func appendLiteral(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

var safeByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		safeByte[c] = isAlpha(b) || isDigit(b) || strings.IndexByte("-._~!$&'()*+,;=:@", b) >= 0
	}
}

// staticExt holds the file extensions of static assets: their file name
// collapses into {file}.
var staticExt = map[string]struct{}{}

func init() {
	for _, e := range strings.Fields("js mjs css map png jpg jpeg gif svg ico webp avif bmp woff woff2 ttf otf eot") {
		staticExt[e] = struct{}{}
	}
}

// staticAsset returns the index of the dot when s names a static asset.
func staticAsset(s string) (int, bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || len(s)-dot-1 > 8 || dot == len(s)-1 {
		return 0, false
	}
	var ext [8]byte
	n := copy(ext[:], s[dot+1:])
	for i := range n {
		if isUpper(ext[i]) {
			ext[i] |= 0x20
		}
	}
	_, ok := staticExt[string(ext[:n])]
	return dot, ok
}

func (t *Templater) infer(host string, segs []string, cut bool, params []Param) (string, []Param) {
	b := t.buf[:0]
	learn := t.cfg.LearnThreshold > 0
	var h uint64
	if learn {
		h = hashAdd(t.seed, host)
	}
	for i, raw := range segs {
		start := len(b)
		b = append(b, '/')
		dec := pctDecode(raw)
		if i == len(segs)-1 && !cut {
			if dot, ok := staticAsset(dec); ok {
				b = append(b, "{file}."...)
				for j := dot + 1; j < len(dec); j++ {
					b = append(b, dec[j]|0x20)
				}
				break
			}
		}
		if typ, n := classify(dec); typ != TypeNone {
			b = append(b, typ.placeholder()...)
			b = appendLiteral(b, dec[n:])
			params = append(params, Param{Name: typ.paramName(), Value: dec[:n], Type: typ, Position: i})
		} else if learn && i > 0 && !isReserved(dec) && t.learnAt(h, dec) {
			b = append(b, TypeLearned.placeholder()...)
			params = append(params, Param{Name: TypeLearned.paramName(), Value: dec, Type: TypeLearned, Position: i})
		} else {
			b = appendLiteral(b, dec)
		}
		if learn {
			h = hashAdd(h, b[start:])
		}
	}
	if cut {
		t.stats.Collapsed++
		b = append(b, "/{rest}"...)
	}
	if len(b) == 0 {
		b = append(b, '/')
	}
	t.buf = b
	if s, ok := t.intern[string(b)]; ok {
		return s, params
	}
	if len(t.intern) >= t.cfg.MaxTemplates {
		clear(t.intern)
		t.stats.InternResets++
	}
	s := string(b)
	t.intern[s] = s
	return s, params
}

// hashAdd continues the FNV-1a hash h over b. Position keys are the hash
// of the host and the rendered template prefix, fed segment by segment
// (each starts with '/', so the stream is unambiguous). FNV because the
// inputs are a few bytes long, where maphash's per-call cost dominates; the
// keys only index maps (which hash them again with their own seed), and the
// random seed keeps crafted collisions out of reach.
func hashAdd[T ~string | ~[]byte](h uint64, b T) uint64 {
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 0x100000001b3
	}
	return h
}

// learnAt counts val at the position whose rendered prefix hashes to key
// and reports whether the position is (now) a learned parameter.
func (t *Templater) learnAt(key uint64, val string) bool {
	if _, ok := t.learned[key]; ok {
		return true
	}
	c := t.track(key)
	if c.full {
		return false
	}
	vh := hashAdd(t.seed, val)
	for _, v := range c.vals {
		if v == vh {
			return false
		}
	}
	if len(c.vals) < t.cfg.LearnThreshold {
		c.vals = append(c.vals, vh)
		return false
	}
	if len(t.learned) >= t.cfg.MaxLearnedPositions {
		t.stats.LearnDropped++
		c.full = true
		return false
	}
	t.learned[key] = struct{}{}
	t.gen++
	delete(t.cur, key)
	t.recycle(c)
	return true
}

// track returns the counter of a position, creating it. Tracked positions
// live in two generations: a hit in the old one moves to the current one;
// when the current one is full the old one is forgotten. That is an LRU
// approximation with O(1) work and no per-entry links.
func (t *Templater) track(key uint64) *counter {
	if c, ok := t.cur[key]; ok {
		return c
	}
	if c, ok := t.old[key]; ok {
		delete(t.old, key)
		t.cur[key] = c
		return c
	}
	if len(t.cur) >= t.cfg.MaxTrackedPositions/2 {
		t.stats.TrackEvicted += uint64(len(t.old))
		for _, c := range t.old {
			t.recycle(c)
		}
		clear(t.old)
		t.old, t.cur = t.cur, t.old
	}
	var c *counter
	if n := len(t.free); n > 0 {
		c, t.free = t.free[n-1], t.free[:n-1]
	} else {
		c = &counter{vals: make([]uint64, 0, 4)}
	}
	t.cur[key] = c
	return c
}

func (t *Templater) recycle(c *counter) {
	c.vals, c.full = c.vals[:0], false
	if len(t.free) < 1024 {
		t.free = append(t.free, c)
	}
}
