package normalize

import (
	"context"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/identity"
	"github.com/apiwatch/apiwatch/pipeline"
)

// demoTransactions returns copies of the demo capture's transactions.
func demoTransactions(tb testing.TB) []parse.Transaction {
	tb.Helper()
	src, err := capture.OpenFile("../../testdata/demo.pcap.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var txs []parse.Transaction
	conns := map[uint64]*parse.ConnState{} // by ID: the tracker reuses its own
	h := parse.HandlerFunc(func(t *parse.Transaction) {
		c := *t
		if conns[t.Conn.ID] == nil {
			conns[t.Conn.ID] = &parse.ConnState{ID: t.Conn.ID}
		}
		c.Conn = conns[t.Conn.ID]
		if t.Request != nil {
			c.Request = new(http1.Message)
			t.Request.CopyTo(c.Request)
		}
		if t.Response != nil {
			c.Response = new(http1.Message)
			t.Response.CopyTo(c.Response)
		}
		txs = append(txs, c)
	})
	if _, err := pipeline.Run(context.Background(), pipeline.Config{Workers: 1}, []capture.Source{src}, []string{"demo"},
		func(int) parse.Handler { return h }); err != nil {
		tb.Fatal(err)
	}
	return txs
}

// BenchmarkEvent is the cost of normalization per event on the demo's API
// traffic (JWTs, cookies, JSON bodies, logins), sampling as configured by
// default and with every body analysed. Compare with the parse cost per
// transaction of BenchmarkRun in ./pipeline/.
func BenchmarkEvent(b *testing.B) {
	txs := demoTransactions(b)
	for _, c := range []struct {
		name  string
		every int
	}{{"sampled", 0}, {"all-bodies", 1}} {
		b.Run(c.name, func(b *testing.B) {
			n := New(Config{AnalyzeEvery: c.every, Identity: identity.New(identity.Config{Secret: []byte("bench")})})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				n.Event(&txs[i%len(txs)])
				i++
			}
		})
	}
}
