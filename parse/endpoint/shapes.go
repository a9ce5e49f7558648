package endpoint

import (
	"hash/maphash"
	"strings"
)

// The shape cache. Most requests repeat a path whose only variable parts
// are numbers and UUIDs: "/api/v1/users/123" and "/api/v1/users/456" have
// one shape, "/api/v1/users/#". For a shape seen before, Template returns
// the template inferred then and takes the parameter values from the new
// path, skipping classification, learning and interning (three quarters of
// its cost). Numbers and UUIDs classify the same anywhere, so only the
// other segments, kept verbatim in the shape, could have gone another way:
// a position learned since (which bumps gen and so empties the cache). A
// hit does not count its literal segments toward learning again: they were
// counted when the shape was first seen.
const shapeSlots = 1024 // a power of two

// shape is one cached path shape.
type shape struct {
	key      string // host, then per segment '/' and the raw segment or a marker
	gen      uint64 // Templater.gen when cached
	template string
	params   []shapeParam
}

// shapeParam is a parameter of a cached shape: at a marker position its
// value comes from the path; elsewhere the segment is part of the key, so
// the value is the one cached.
type shapeParam struct {
	typ    ParamType
	pos    int
	value  string
	marker bool
}

// Markers stand for a segment in a shape key. A raw segment cannot hold
// them: a path with a NUL byte is not cached.
const (
	markInt  = "\x00i"
	markUUID = "\x00u"
)

// segmentMarker returns the marker of a raw segment that is a number or a
// UUID, which classify as TypeInt and TypeUUID wherever they are.
func segmentMarker(s string) string {
	switch {
	case len(s) <= 19 && allDigits(s):
		return markInt
	case len(s) == 36 && isUUID(s):
		return markUUID
	}
	return ""
}

// shapeKey builds the shape key of host and segs in t.key and returns its
// slot, or false when the path cannot be cached.
func (t *Templater) shapeKey(host string, segs []string) (int, bool) {
	k := append(t.key[:0], host...)
	for _, s := range segs {
		k = append(k, '/')
		if m := segmentMarker(s); m != "" {
			k = append(k, m...)
			continue
		}
		if strings.IndexByte(s, 0) >= 0 {
			t.key = k
			return 0, false
		}
		k = append(k, s...)
	}
	t.key = k
	return int(maphash.Bytes(t.shapeSeed, k) & (shapeSlots - 1)), true
}

// cachedShape returns the template of the path whose key t.key holds (in
// slot), appending its parameters, when cached.
func (t *Templater) cachedShape(slot int, segs []string, params []Param) (string, []Param, bool) {
	if t.shapes == nil {
		return "", params, false
	}
	sh := &t.shapes[slot]
	// A slot never filled has an empty key too, which a path without host
	// and segments also has: only a filled slot has a template.
	if sh.gen != t.gen || sh.key != string(t.key) || sh.template == "" {
		return "", params, false
	}
	for _, p := range sh.params {
		v := p.value
		if p.marker {
			v = segs[p.pos]
		}
		params = append(params, Param{Name: p.typ.paramName(), Value: v, Type: p.typ, Position: p.pos})
	}
	return sh.template, params, true
}

// cacheShape remembers the template and parameters inferred for the path
// whose key t.key holds.
func (t *Templater) cacheShape(slot int, segs []string, template string, params []Param) {
	if t.shapes == nil {
		t.shapes = make([]shape, shapeSlots)
	}
	sh := &t.shapes[slot]
	sh.key, sh.gen, sh.template, sh.params = string(t.key), t.gen, template, sh.params[:0]
	for _, p := range params {
		sh.params = append(sh.params, shapeParam{typ: p.Type, pos: p.Position, value: p.Value, marker: segmentMarker(segs[p.Position]) != ""})
	}
}
