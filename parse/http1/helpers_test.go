package http1

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// recorder is a Handler that keeps deep copies of what it is given.
type recorder struct {
	method  []byte    // answer to ResponseMethod when queue is nil
	queue   *[][]byte // shared with a request-side recorder: pipelined methods
	heads   []string
	msgs    []Message
	asked   int
	checkCf *Config
	t       testing.TB
}

func (r *recorder) RequestHead(m *Message) {
	r.heads = append(r.heads, string(m.Method))
	if r.queue != nil {
		*r.queue = append(*r.queue, append([]byte(nil), m.Method...))
	}
}

func (r *recorder) ResponseMethod() []byte {
	r.asked++
	if r.queue != nil {
		if len(*r.queue) == 0 {
			return nil
		}
		m := (*r.queue)[0]
		*r.queue = (*r.queue)[1:]
		return m
	}
	return r.method
}

func (r *recorder) Message(m *Message) {
	if r.checkCf != nil {
		checkSane(r.t, r.checkCf, m)
	}
	var c Message
	m.CopyTo(&c)
	r.msgs = append(r.msgs, c)
}

// checkSane asserts the invariants every reported Message keeps.
func checkSane(t testing.TB, cfg *Config, m *Message) {
	t.Helper()
	c := *cfg
	c.applyDefaults()
	if m.WireBodyLen < 0 || m.BodyLen < 0 || m.DecodedLen < -1 || m.HeaderBytes < 0 {
		t.Fatalf("negative length in %s", summary(m))
	}
	if m.End < m.Start {
		t.Fatalf("ends at %d before its start %d: %s", m.End, m.Start, summary(m))
	}
	if len(m.Body) > c.BodyKeep {
		t.Fatalf("body %d > BodyKeep %d", len(m.Body), c.BodyKeep)
	}
	if len(m.Headers) > c.MaxHeaders {
		t.Fatalf("%d headers > MaxHeaders %d", len(m.Headers), c.MaxHeaders)
	}
	if m.HeaderBytes > c.MaxHeaderBytes {
		t.Fatalf("head %d > MaxHeaderBytes %d", m.HeaderBytes, c.MaxHeaderBytes)
	}
	// Without content coding DecodedLen is BodyLen; decoding never exceeds the cap.
	if m.DecodedLen > max(c.MaxDecodedBytes, m.BodyLen) {
		t.Fatalf("decoded %d > MaxDecodedBytes %d", m.DecodedLen, c.MaxDecodedBytes)
	}
}

var flagNames = []string{"gap", "trunc", "perr", "smug", "chunked", "close", "interim", "09", "decerr", "bodycap", "hdrcap", "fold", "upgrade", "unexpbody", "notkept"}

func (f Flags) String() string {
	var s []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	return strings.Join(s, ",")
}

// summary renders the fields tests compare.
func summary(m *Message) string {
	var s string
	if m.IsRequest {
		s = fmt.Sprintf("%s %s %s", m.Method, m.Target, m.Proto)
	} else {
		s = fmt.Sprintf("%d %s", m.Status, m.Proto)
	}
	body := string(m.Body)
	if len(body) > 40 {
		body = body[:40] + "..."
	}
	return fmt.Sprintf("%s h=%d wire=%d len=%d dec=%d body=%q [%s]", s, len(m.Headers), m.WireBodyLen, m.BodyLen, m.DecodedLen, body, m.Flags)
}

// splits returns the ways each case is fed: whole, byte by byte, and
// random cuts.
func splits(input string) [][]string {
	out := [][]string{{input}}
	var bytewise []string
	for i := 0; i < len(input); i++ {
		bytewise = append(bytewise, input[i:i+1])
	}
	out = append(out, bytewise)
	for seed := int64(1); seed <= 3; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		var parts []string
		for rest := input; len(rest) > 0; {
			n := 1 + rnd.Intn(min(len(rest), 17))
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		out = append(out, parts)
	}
	return out
}

// run feeds parts (a "" part is a 1-byte gap) then closes.
func run(p *Parser, parts []string) {
	for i, s := range parts {
		p.Feed([]byte(s), int64(i+1))
	}
	p.Close(int64(len(parts) + 1))
}

func summaries(r *recorder) []string {
	var got []string
	for i := range r.msgs {
		got = append(got, summary(&r.msgs[i]))
	}
	return got
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nopHandler answers GET and keeps nothing: for allocation checks and benchmarks.
type nopHandler struct{}

func (nopHandler) RequestHead(*Message)   {}
func (nopHandler) ResponseMethod() []byte { return methodGET }

var methodGET = []byte("GET")

func (nopHandler) Message(*Message) {}
