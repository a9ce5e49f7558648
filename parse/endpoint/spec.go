package endpoint

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Spec is a set of OpenAPI 3 operations compiled for matching request
// paths. It is immutable once loaded and safe for concurrent use.
type Spec struct {
	hosts map[string]*node // lower-case host name without port → routes
	any   *node            // routes of servers without a host
	ops   int
}

// node is one path position in the route trie.
type node struct {
	lit      map[string]*node // decoded literal segment → child
	pat      []*patEdge       // parameter segments, most literal text first
	methods  []string         // upper-case methods of the operations ending here
	template string           // base path + spec path, set when methods != nil
}

// patEdge is a segment holding parameters: "{id}", "{name}.{ext}", "v{n}".
type patEdge struct {
	text   string // as written, to merge identical edges
	parts  []patPart
	litLen int
	child  *node
}

type patPart struct {
	lit  string // literal text, or
	name string // a parameter name
}

// Operations returns the number of operations loaded.
func (s *Spec) Operations() int { return s.ops }

// LoadSpecs reads OpenAPI 3 documents (YAML or JSON). $refs may point at
// other local files, never at URLs. Every operation is routed under each of
// its servers (operation, then path item, then document servers): a server
// URL's path is a base path prefixed to the operation's path and to the
// returned template; its host, when it has one without variables, must
// equal the request's host (port ignored). Errors name the file.
func LoadSpecs(paths ...string) (*Spec, error) {
	s := &Spec{hosts: make(map[string]*node), any: &node{}}
	for _, p := range paths {
		if err := s.load(p); err != nil {
			return nil, fmt.Errorf("openapi spec %s: %w", p, err)
		}
	}
	return s, nil
}

func (s *Spec) load(file string) error {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = readLocalOnly
	doc, err := loader.LoadFromFile(file)
	if err != nil {
		if data, rerr := os.ReadFile(file); rerr == nil && strings.Contains(string(data[:min(len(data), 512)]), "swagger") {
			return fmt.Errorf("%w (a Swagger 2.0 document? convert it to OpenAPI 3 first)", err)
		}
		return err
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return fmt.Errorf("field openapi is %q, want 3.x (Swagger 2.0 documents must be converted to OpenAPI 3)", doc.OpenAPI)
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return errors.New("no paths: nothing to match requests against")
	}
	keys := doc.Paths.Keys()
	sort.Strings(keys)
	for _, key := range keys {
		item := doc.Paths.Value(key)
		if item == nil {
			continue
		}
		if !strings.HasPrefix(key, "/") {
			return fmt.Errorf("path %q does not start with '/'", key)
		}
		pathSegs, err := parseTemplate(key)
		if err != nil {
			return fmt.Errorf("path %q: %w", key, err)
		}
		methods := item.Operations()
		names := make([]string, 0, len(methods))
		for m := range methods {
			names = append(names, m)
		}
		sort.Strings(names)
		for _, m := range names {
			op := methods[m]
			servers := doc.Servers
			if len(item.Servers) > 0 {
				servers = item.Servers
			}
			if op.Servers != nil && len(*op.Servers) > 0 {
				servers = *op.Servers
			}
			if len(servers) == 0 {
				servers = openapi3.Servers{{URL: "/"}}
			}
			for _, srv := range servers {
				host, base, err := serverBase(srv)
				if err != nil {
					return fmt.Errorf("server %q: %w", srv.URL, err)
				}
				baseSegs, err := parseTemplate(base)
				if err != nil {
					return fmt.Errorf("server %q: %w", srv.URL, err)
				}
				s.add(host, strings.ToUpper(m), append(baseSegs, pathSegs...))
			}
		}
	}
	return nil
}

func readLocalOnly(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
	if (u.Scheme != "" && u.Scheme != "file") || u.Host != "" {
		return nil, fmt.Errorf("reference %s: only local files are read", u)
	}
	return os.ReadFile(filepath.FromSlash(u.Path))
}

// serverBase splits a server URL into a host ("" when absent or templated)
// and a base path with variables replaced by their defaults.
func serverBase(srv *openapi3.Server) (host, base string, err error) {
	if srv == nil {
		return "", "/", nil
	}
	u := srv.URL
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			j = len(rest)
		}
		host, u = rest[:j], rest[j:]
		if strings.Contains(host, "{") {
			host = "" // a templated host matches any host
		}
	} else if strings.HasPrefix(u, "//") {
		rest := u[2:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			j = len(rest)
		}
		host, u = rest[:j], rest[j:]
	}
	for name, v := range srv.Variables {
		if v != nil {
			u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
		}
	}
	if strings.ContainsAny(u, "{}") {
		return "", "", errors.New("base path variable without a default")
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return normHost(host), "/" + strings.TrimLeft(u, "/"), nil
}

// normHost lower-cases a host and drops its port.
func normHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// tseg is one parsed template segment.
type tseg struct {
	text  string // canonical text for the template
	lit   string // decoded literal when parts == nil
	parts []patPart
}

func parseTemplate(p string) ([]tseg, error) {
	var out []tseg
	for _, raw := range strings.Split(p, "/") {
		if raw == "" {
			continue
		}
		if !strings.ContainsAny(raw, "{}") {
			out = append(out, tseg{text: raw, lit: pctDecode(raw)})
			continue
		}
		var parts []patPart
		rest := raw
		for rest != "" {
			open := strings.IndexByte(rest, '{')
			if open < 0 {
				if strings.IndexByte(rest, '}') >= 0 {
					return nil, fmt.Errorf("unbalanced '}' in %q", raw)
				}
				parts = append(parts, patPart{lit: pctDecode(rest)})
				break
			}
			if open > 0 {
				if strings.IndexByte(rest[:open], '}') >= 0 {
					return nil, fmt.Errorf("unbalanced '}' in %q", raw)
				}
				parts = append(parts, patPart{lit: pctDecode(rest[:open])})
			}
			closeIdx := strings.IndexByte(rest[open:], '}')
			if closeIdx < 0 {
				return nil, fmt.Errorf("unclosed '{' in %q", raw)
			}
			name := rest[open+1 : open+closeIdx]
			if name == "" || strings.IndexByte(name, '{') >= 0 {
				return nil, fmt.Errorf("bad parameter name in %q", raw)
			}
			if n := len(parts); n > 0 && parts[n-1].name != "" {
				return nil, fmt.Errorf("two parameters without text between them in %q", raw)
			}
			parts = append(parts, patPart{name: name})
			rest = rest[open+closeIdx+1:]
		}
		out = append(out, tseg{text: raw, parts: parts})
	}
	return out, nil
}

func (s *Spec) add(host, method string, segs []tseg) {
	n := s.any
	if host != "" {
		n = s.hosts[host]
		if n == nil {
			n = &node{}
			s.hosts[host] = n
		}
	}
	var tb strings.Builder
	for _, sg := range segs {
		tb.WriteByte('/')
		tb.WriteString(sg.text)
		if sg.parts == nil {
			if n.lit == nil {
				n.lit = make(map[string]*node)
			}
			c := n.lit[sg.lit]
			if c == nil {
				c = &node{}
				n.lit[sg.lit] = c
			}
			n = c
			continue
		}
		var e *patEdge
		for _, x := range n.pat {
			if x.text == sg.text {
				e = x
			}
		}
		if e == nil {
			e = &patEdge{text: sg.text, parts: sg.parts, child: &node{}}
			for _, p := range sg.parts {
				e.litLen += len(p.lit)
			}
			n.pat = append(n.pat, e)
			// more literal text first: "{id}.pdf" before "{id}"
			sort.SliceStable(n.pat, func(i, j int) bool { return n.pat[i].litLen > n.pat[j].litLen })
		}
		n = e.child
	}
	for _, m := range n.methods {
		if m == method {
			return // first document wins
		}
	}
	if n.template == "" {
		n.template = tb.String()
		if n.template == "" {
			n.template = "/"
		}
	}
	n.methods = append(n.methods, method)
	s.ops++
}

// Match matches a request against the spec. path is the raw path without
// query. ok is false when no operation of that method matches; template is
// then "".
func (s *Spec) Match(method, host, path string) (template string, params []Param, ok bool) {
	segs, cut := splitPath(nil, trimTarget(path), DefaultMaxSegments, DefaultMaxSegmentLen)
	if cut {
		return "", nil, false
	}
	segs = decodeAll(segs[:0:0], segs)
	op, n := s.match(method, host, segs, &params)
	if !op {
		return "", nil, false
	}
	return n.template, params, true
}

// match finds the route of decoded segments: first one with an operation
// of method, else (op false) one with any operation, else nil. params is
// appended to only when a node is returned.
func (s *Spec) match(method, host string, segs []string, params *[]Param) (op bool, _ *node) {
	var hostRoot *node
	if len(s.hosts) > 0 && host != "" {
		hostRoot = s.hosts[normHostFast(host)]
	}
	mark := len(*params)
	for _, anyMethod := range [2]bool{false, true} {
		for _, root := range [2]*node{hostRoot, s.any} {
			if root == nil {
				continue
			}
			if n := root.walk(method, anyMethod, segs, 0, params); n != nil {
				return !anyMethod, n
			}
			*params = (*params)[:mark]
		}
	}
	return false, nil
}

// normHostFast is normHost without allocating for the common lower-case host.
func normHostFast(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if isUpper(h[i]) {
			return strings.ToLower(h)
		}
	}
	return h
}

func (n *node) hasMethod(method string, anyMethod bool) bool {
	if len(n.methods) == 0 {
		return false
	}
	if anyMethod {
		return true
	}
	for _, m := range n.methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	// HEAD is served by GET.
	if method == "HEAD" {
		for _, m := range n.methods {
			if m == "GET" {
				return true
			}
		}
	}
	return false
}

// walk matches segs[i:] below n; literal children beat parameter ones.
func (n *node) walk(method string, anyMethod bool, segs []string, i int, params *[]Param) *node {
	if i == len(segs) {
		if n.hasMethod(method, anyMethod) {
			return n
		}
		return nil
	}
	seg := segs[i]
	if c := n.lit[seg]; c != nil {
		if r := c.walk(method, anyMethod, segs, i+1, params); r != nil {
			return r
		}
	}
	for _, e := range n.pat {
		mark := len(*params)
		if e.matchSeg(seg, i, params) {
			if r := e.child.walk(method, anyMethod, segs, i+1, params); r != nil {
				return r
			}
		}
		*params = (*params)[:mark]
	}
	return nil
}

// matchSeg matches one decoded segment against a parameter pattern; a
// parameter takes the shortest non-empty text up to the next literal part.
func (e *patEdge) matchSeg(seg string, pos int, params *[]Param) bool {
	rest := seg
	for k, p := range e.parts {
		if p.name == "" {
			if !strings.HasPrefix(rest, p.lit) {
				return false
			}
			rest = rest[len(p.lit):]
			continue
		}
		var v string
		if k+1 < len(e.parts) {
			next := e.parts[k+1].lit
			j := strings.Index(rest[min(1, len(rest)):], next)
			if j < 0 {
				return false
			}
			v, rest = rest[:j+1], rest[j+1:]
		} else {
			v, rest = rest, ""
		}
		if v == "" {
			return false
		}
		typ := TypeSpec
		if t, n := classify(v); t != TypeNone && n == len(v) {
			typ = t
		}
		*params = append(*params, Param{Name: p.name, Value: v, Type: typ, Position: pos})
	}
	return rest == ""
}
