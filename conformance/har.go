package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// pcap2har expected.har.json: log.entries[], one per request/response pair
// pcap2har reconstructed. Each entry becomes a check "some observed
// transaction matches this entry", and one more check requires that all
// entries match DISTINCT transactions at once (maximum bipartite matching),
// so two identical requests need two observed transactions.
//
// Field mapping (HAR → Transaction):
//
//	request.method       Method
//	request.url          path?query (as written after the authority) == Target in
//	                     origin form; authority == Host (case-insensitive; equal
//	                     also when only the default/explicit port differs)
//	response.status      Status (0 in HAR = no response: not compared)
//	response.content.size  decoded response body length (after content decoding)
//	response.content.text  the decoded body starts with the first 256 bytes of
//	                     the text; compared only when the text is present, not
//	                     base64 (content.encoding) and not mangled binary (no U+FFFD)
//
// Entries whose request or response httpVersion is HTTP/2 are
// NotApplicable (apiwatch parses HTTP/1.x).

const harTextPrefix = 256

type harFile struct {
	Log struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Request struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		HTTPVersion string `json:"httpVersion"`
	} `json:"request"`
	Response struct {
		Status      int    `json:"status"`
		HTTPVersion string `json:"httpVersion"`
		Content     *struct {
			Size     *int64 `json:"size"`
			Text     string `json:"text"`
			Encoding string `json:"encoding"`
		} `json:"content"`
	} `json:"response"`
}

func loadHAR(c *Case) error {
	b, err := os.ReadFile(filepath.Join(c.Dir, "expected.har.json"))
	if err != nil {
		return err
	}
	var f harFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var entries []*harCheck
	for i, e := range f.Log.Entries {
		h := newHARCheck(i, e)
		if isH2(e.Request.HTTPVersion) || isH2(e.Response.HTTPVersion) {
			c.Checks = append(c.Checks, naCheck{"har/entry", h.Describe(), "HTTP/2 entry",
				"HTTP/2 entry: apiwatch parses HTTP/1.x"})
			continue
		}
		entries = append(entries, h)
		c.Checks = append(c.Checks, h)
	}
	if len(entries) > 0 {
		c.Checks = append(c.Checks, &harDistinct{entries})
	}
	return nil
}

func isH2(v string) bool {
	v = strings.ToLower(v)
	return v == "http/2" || v == "http/2.0" || v == "h2" || v == "h2c"
}

type harCheck struct {
	i               int
	method, url     string
	authority, path string
	status          int
	size            int64 // -1: not compared
	text            []byte
	textNote        string
}

func newHARCheck(i int, e harEntry) *harCheck {
	h := &harCheck{i: i, method: e.Request.Method, url: e.Request.URL, status: e.Response.Status, size: -1}
	rest := h.url
	if j := strings.Index(rest, "://"); j >= 0 {
		rest = rest[j+3:]
	}
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		h.authority, h.path = rest[:j], rest[j:]
	} else {
		h.authority, h.path = rest, "/"
	}
	if c := e.Response.Content; c != nil {
		if c.Size != nil {
			h.size = *c.Size
		}
		switch {
		case c.Text == "":
		case c.Encoding != "":
			h.textNote = "text is " + c.Encoding + ": not compared"
		case strings.ContainsRune(c.Text, utf8.RuneError):
			h.textNote = "text is mangled binary: not compared"
		default:
			t := []byte(c.Text)
			if len(t) > harTextPrefix {
				t = t[:harTextPrefix]
			}
			h.text = t
		}
	}
	return h
}

func (h *harCheck) Kind() string { return "har/entry" }

func (h *harCheck) Describe() string {
	s := fmt.Sprintf("entry #%d %s %s -> %d", h.i+1, h.method, h.url, h.status)
	if h.size >= 0 {
		s += fmt.Sprintf(" size=%d", h.size)
	}
	if len(h.text) > 0 {
		s += fmt.Sprintf(" text[:%d]", len(h.text))
	}
	return s
}

// mismatch returns "" when t matches the entry, else the first difference.
func (h *harCheck) mismatch(t *Transaction) string {
	switch {
	case !t.HasRequest:
		return "no request"
	case t.Method != h.method:
		return "method " + t.Method
	case originForm(t.Target) != h.path:
		return "target " + t.Target
	case !strings.EqualFold(strings.TrimSpace(t.Host), h.authority) &&
		!strings.EqualFold(hostOnly(t.Host), hostOnly(h.authority)):
		return "host " + t.Host
	case h.status > 0 && (!t.HasResponse || t.Status != h.status):
		return fmt.Sprintf("status %d", t.Status)
	}
	if h.size >= 0 {
		if n := t.responseDecodedLen(); n != h.size {
			return fmt.Sprintf("decoded body length %d, want %d", n, h.size)
		}
	}
	if len(h.text) > 0 {
		want := h.text
		if len(t.ResponseBody) < len(want) && len(t.ResponseBody) >= MaxBodyPrefix {
			want = want[:len(t.ResponseBody)]
		}
		if !bytes.HasPrefix(t.ResponseBody, want) {
			got := t.ResponseBody
			if len(got) > 40 {
				got = got[:40]
			}
			return fmt.Sprintf("body starts %q", got)
		}
	}
	return ""
}

func (h *harCheck) Eval(obs []Transaction) Outcome {
	best := ""
	for i := range obs {
		m := h.mismatch(&obs[i])
		if m == "" {
			if h.textNote != "" {
				return pass("matched %s %s (%s)", obs[i].Method, obs[i].Target, h.textNote)
			}
			return pass("matched %s %s", obs[i].Method, obs[i].Target)
		}
		// keep the most specific miss: one on a transaction with the same target
		if best == "" || (obs[i].HasRequest && originForm(obs[i].Target) == h.path) {
			best = m
		}
	}
	if len(obs) == 0 {
		return fail("no transactions observed")
	}
	return fail("no observed transaction matches (closest: %s)", best)
}

// harDistinct requires every applicable entry to match its own transaction.
type harDistinct struct{ entries []*harCheck }

func (d *harDistinct) Kind() string { return "har/distinct" }
func (d *harDistinct) Describe() string {
	return fmt.Sprintf("all %d HTTP/1.x entries match distinct transactions", len(d.entries))
}

func (d *harDistinct) Eval(obs []Transaction) Outcome {
	adj := make([][]int, len(d.entries))
	for i, e := range d.entries {
		for j := range obs {
			if e.mismatch(&obs[j]) == "" {
				adj[i] = append(adj[i], j)
			}
		}
	}
	n, unmatched := maxMatching(adj, len(obs))
	if n == len(d.entries) {
		return pass("%d entries matched to %d distinct transactions", n, n)
	}
	var names []string
	for _, i := range unmatched {
		if len(names) < 3 {
			names = append(names, fmt.Sprintf("#%d %s %s", d.entries[i].i+1, d.entries[i].method, d.entries[i].path))
		}
	}
	return fail("only %d of %d entries match distinct transactions; unmatched e.g. %s",
		n, len(d.entries), strings.Join(names, ", "))
}

// maxMatching is Kuhn's augmenting-path bipartite matching; it returns the
// matching size and the left vertices left unmatched.
func maxMatching(adj [][]int, right int) (int, []int) {
	matchR := make([]int, right)
	for i := range matchR {
		matchR[i] = -1
	}
	var try func(u int, seen []bool) bool
	try = func(u int, seen []bool) bool {
		for _, v := range adj[u] {
			if seen[v] {
				continue
			}
			seen[v] = true
			if matchR[v] < 0 || try(matchR[v], seen) {
				matchR[v] = u
				return true
			}
		}
		return false
	}
	n := 0
	var unmatched []int
	for u := range adj {
		if try(u, make([]bool, right)) {
			n++
		} else {
			unmatched = append(unmatched, u)
		}
	}
	return n, unmatched
}
