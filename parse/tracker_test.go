package parse

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// step is one call on a connection: bytes in one direction, or a gap.
type step struct {
	dir reassembly.Direction
	s   string
	gap int
}

func c2s(s string) step { return step{dir: reassembly.ClientToServer, s: s} }
func s2c(s string) step { return step{dir: reassembly.ServerToClient, s: s} }

var testFlow = capture.Flow{
	SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
	SrcPort: 40000, DstPort: 80,
}

// summary renders a transaction compactly: "GET /a -> 200 [flags]".
func summary(t *Transaction) string {
	var b strings.Builder
	if t.Request != nil {
		fmt.Fprintf(&b, "%s %s", t.Request.Method, t.Request.Target)
	} else {
		b.WriteString("-")
	}
	b.WriteString(" -> ")
	if t.Response != nil {
		fmt.Fprintf(&b, "%d", t.Response.Status)
		if t.Response.BodyLen > 0 {
			fmt.Fprintf(&b, " (%d)", t.Response.BodyLen)
		}
	} else {
		b.WriteString("-")
	}
	if t.Interim > 0 {
		fmt.Fprintf(&b, " interim=%d", t.Interim)
	}
	for _, f := range []struct {
		f TxFlags
		n string
	}{{TxUnanswered, "unanswered"}, {TxNoRequest, "no_request"}, {TxQueueOverflow, "overflow"}} {
		if t.Flags&f.f != 0 {
			b.WriteString(" " + f.n)
		}
	}
	if t.Flow.SrcPort != testFlow.SrcPort {
		b.WriteString(" reversed")
	}
	return b.String()
}

func TestTrackerPairing(t *testing.T) {
	tr := NewTracker(Config{MaxPending: 3}, nil)
	var got []string
	tr.out = HandlerFunc(func(t *Transaction) { got = append(got, summary(t)) })

	f := func(name string, steps []step, want ...string) {
		t.Helper()
		// Twice on the same Tracker: the second run reuses the pooled
		// connection and records, proving they are reset.
		for run := 0; run < 2; run++ {
			got = nil
			c := tr.New(testFlow, 1)
			for i, s := range steps {
				if s.gap > 0 {
					c.Gap(s.dir, s.gap, int64(i+2))
					continue
				}
				c.Data(s.dir, []byte(s.s), int64(i+2))
			}
			c.Close(reassembly.CloseFIN, int64(len(steps)+2))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s (run %d):\ngot:\n  %s\nwant:\n  %s", name, run, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		}
	}

	f("simple",
		[]step{c2s("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), s2c("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")},
		"GET /a -> 200 (2)")
	f("pipelined",
		[]step{
			c2s("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"),
			s2c("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),
			s2c("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"),
		},
		"GET /1 -> 200 (1)", "GET /2 -> 404", "GET /3 -> 201 (3)")
	f("response to HEAD has no body",
		[]step{
			c2s("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n"),
			s2c("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		},
		"HEAD /h -> 200", "GET /g -> 200 (2)")
	f("interim responses",
		[]step{
			c2s("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
			s2c("HTTP/1.1 100 Continue\r\n\r\n"),
			c2s("data"),
			s2c("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
		},
		"POST /up -> 204 interim=2")
	f("unanswered at close",
		[]step{c2s("GET /lost HTTP/1.1\r\nHost: x\r\n\r\n")},
		"GET /lost -> - unanswered")
	f("response only",
		[]step{s2c("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")},
		"- -> 200 (2) no_request")
	f("requests from the side reassembly called server (midstream pickup)",
		[]step{s2c("GET /m HTTP/1.1\r\nHost: x\r\n\r\n"), c2s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
		"GET /m -> 200 reversed")
	f("early response before the request body completes",
		[]step{
			c2s("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"),
			s2c("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"),
			c2s("67890"),
		},
		"POST /big -> 413")
	f("pending queue overflow reports the oldest early",
		[]step{
			c2s("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n\r\n"),
		},
		"GET /1 -> - unanswered overflow", "GET /2 -> - unanswered", "GET /3 -> - unanswered", "GET /4 -> - unanswered")
}

// TestTrackerMemoryBounded drives 20k concurrent connections, each in the
// middle of a large gzip chunked response, through one Tracker: body memory
// must stay within the configured budgets, not grow with the connections.
func TestTrackerMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("memory test")
	}
	const (
		conns      = 20000
		bodyMemory = 8 << 20
		pendingMem = 4 << 20
		// What a connection may hold besides the budgets: the conn with
		// its two parsers (2.5 KiB), their small head buffers, its pending
		// record and the slim request copy kept once PendingMemory is
		// spent. Measured about 4.6 KiB; before the budgets, every one of
		// these connections held its 96 KiB of encoded body (~2 GB).
		perConn = 8 << 10
	)
	// One large gzipped JSON body, sent chunked; every connection gets its
	// first 96 KiB of chunks and no end.
	var js bytes.Buffer
	js.WriteString("[")
	for i := 0; js.Len() < 4<<20; i++ {
		fmt.Fprintf(&js, `{"id":%d,"email":"user%d@example.com","n":%d},`, i, i*7919%100003, i*31337%1000003)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(js.Bytes())
	zw.Close()
	var chunked bytes.Buffer
	for b := gz.Bytes(); chunked.Len() < 96<<10; {
		n := min(len(b), 8<<10)
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", n, b[:n])
		b = b[n:]
	}
	req := []byte("POST /v1/export HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("x", 2048))
	respHead := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
	body := chunked.Bytes()

	var txs, notKept int
	tr := NewTracker(Config{HTTP: http1.Config{BodyMemory: bodyMemory}, PendingMemory: pendingMem},
		HandlerFunc(func(tx *Transaction) {
			txs++
			if tx.Response != nil && tx.Response.Flags&http1.FlagBodyNotKept != 0 {
				notKept++
			}
		}))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	open := make([]reassembly.Conn, conns)
	for i := range open {
		f := testFlow
		f.SrcPort = uint16(1024 + i%60000)
		f.SrcIP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		c := tr.New(f, int64(i))
		c.Data(reassembly.ClientToServer, req, int64(i))
		// A request waiting for its response, and one in the middle of
		// its body, on alternate connections.
		c.Data(reassembly.ServerToClient, respHead, int64(i))
		for b := body; len(b) > 0; {
			n := min(len(b), 1448)
			c.Data(reassembly.ServerToClient, b[:n], int64(i))
			b = b[n:]
		}
		open[i] = c
	}
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	heap := int64(during.HeapInuse) - int64(before.HeapInuse)
	bound := int64(bodyMemory + pendingMem + conns*perConn)
	ps, pend := tr.MemStats()
	t.Logf("%d connections mid-body: heap %.1f MiB (bound %.1f MiB); pool in use %.1f MiB of %.1f, denied %d; pending copies %.1f MiB",
		conns, float64(heap)/(1<<20), float64(bound)/(1<<20), float64(ps.InUse)/(1<<20), float64(ps.Budget)/(1<<20), ps.Denied, float64(pend)/(1<<20))
	if heap > bound {
		t.Errorf("heap %d bytes over the bound %d", heap, bound)
	}
	// Over PendingMemory only slim copies (method and target) are added.
	if ps.Live > bodyMemory || pend > pendingMem+conns*64 {
		t.Errorf("budgets exceeded: pool live %d of %d, pending %d of %d", ps.Live, bodyMemory, pend, pendingMem)
	}

	for i, c := range open {
		c.Close(reassembly.CloseFIN, int64(conns+i))
	}
	ps, pend = tr.MemStats()
	if txs != conns || ps.InUse != 0 || pend != 0 {
		t.Errorf("after close: %d transactions, pool in use %d, pending %d", txs, ps.InUse, pend)
	}
	if notKept == 0 {
		t.Error("no body was refused by the budget: the test does not exercise it")
	}
	runtime.KeepAlive(open)
}

// TestConnState checks what handlers keep per-connection state by: one
// ConnState per connection, with its Value, and a new ID when the Tracker
// reuses it for another connection.
func TestConnState(t *testing.T) {
	type seen struct {
		state *ConnState
		id    uint64
		value any
	}
	var got []seen
	tr := NewTracker(Config{}, HandlerFunc(func(tx *Transaction) {
		got = append(got, seen{tx.Conn, tx.Conn.ID, tx.Conn.Value})
		tx.Conn.Value = tx.Conn.ID // what a handler would memoise
	}))
	exchange := "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	for conn := range 2 {
		c := tr.New(testFlow, int64(conn))
		c.Data(reassembly.ClientToServer, []byte(exchange), 1)
		c.Data(reassembly.ServerToClient, []byte("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), 2)
		c.Close(reassembly.CloseFIN, 3)
	}
	if len(got) != 4 {
		t.Fatalf("got %d transactions, want 4", len(got))
	}
	first, second := got[0], got[2]
	if first.state == nil || got[1].state != first.state || got[1].id != first.id || got[1].value != first.id {
		t.Errorf("transactions of one connection: states %p/%p ids %d/%d, second saw value %v; want one state, one id, the first's value",
			first.state, got[1].state, first.id, got[1].id, got[1].value)
	}
	if second.id == first.id {
		t.Errorf("two connections share id %d", first.id)
	}
	if second.state == first.state && second.value != first.id {
		t.Errorf("a reused state lost its Value: got %v, want %v (handlers reuse it)", second.value, first.id)
	}
}
