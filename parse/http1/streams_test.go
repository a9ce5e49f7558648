package http1

import (
	"bytes"
	"testing"

	"github.com/apiwatch/apiwatch/internal/teststreams"
)

// The streams below are the client and server byte streams of
// suricata-verify captures, extracted at test time from the shared
// captures (never copied into the repository): decoded with capture and
// reassembled with parse/reassembly, which do not depend on this package.
// suricata recovers the EICAR body of every HTTP Evader case; so must we.

// captureStreams returns the client and server streams of the first
// connection carrying data in a shared capture.
func captureStreams(t *testing.T, rel string) (req, resp []byte) {
	t.Helper()
	conns := teststreams.Read(t, rel)
	if len(conns) == 0 {
		t.Fatalf("%s: no connection carried data", rel)
	}
	c := conns[0]
	if c.Gaps > 0 {
		t.Fatalf("%s: %d gaps in the reassembled streams", rel, c.Gaps)
	}
	return c.Client(), c.Server()
}

func parsePair(t *testing.T, req, resp []byte, split int) (*recorder, *recorder) {
	var q [][]byte
	rq, rs := &recorder{queue: &q, t: t, checkCf: &Config{}}, &recorder{queue: &q, t: t, checkCf: &Config{}}
	pq, pr := NewParser(nil, rq), NewParser(nil, rs)
	feed := func(p *Parser, b []byte) {
		for len(b) > 0 {
			n := min(split, len(b))
			p.Feed(b[:n], 1)
			b = b[n:]
		}
	}
	feed(pq, req)
	feed(pr, resp)
	pq.Close(2)
	pr.Close(2)
	return rq, rs
}

// evaderCases are the HTTP Evader captures whose bodies hide EICAR behind
// framing tricks.
var evaderCases = []string{"000", "001", "004", "034", "036", "041", "057", "098", "104", "106", "117",
	"125", "173", "238", "265", "266", "406", "447", "450", "453"}

func TestEvaderStreams(t *testing.T) {
	for _, n := range evaderCases {
		name := "http-evader-" + n
		req, resp := captureStreams(t, "suricata-verify/"+name+"/input.pcap")
		for _, split := range []int{1 << 20, 1, 7} {
			rq, rs := parsePair(t, req, resp, split)
			if len(rq.msgs) != 1 || string(rq.msgs[0].Header("host")) != "evader.example.com" {
				t.Fatalf("%s: requests %q", name, summaries(rq))
			}
			found := false
			for i := range rs.msgs {
				found = found || bytes.Contains(rs.msgs[i].Body, []byte("EICAR-STANDARD-ANTIVIRUS-TEST-FILE"))
			}
			if !found {
				t.Errorf("%s split %d: no EICAR in %q", name, split, summaries(rs))
			}
		}
	}
}

func TestSuricataStreams(t *testing.T) {
	req, resp := captureStreams(t, "suricata-verify/http-multiple100/input.pcap")
	rq, rs := parsePair(t, req, resp, 1<<20)
	got := summaries(rs)
	if len(rq.msgs) != 1 || rq.msgs[0].BodyLen != 34498 || len(got) != 3 ||
		got[2] != `200 HTTP/1.1 h=5 wire=27 len=27 dec=27 body="file uploaded successfully\n" []` {
		t.Fatalf("multiple100: %q %q", summaries(rq), got)
	}
	req, resp = captureStreams(t, "suricata-verify/http-missing-protocol/input.pcap")
	rq, _ = parsePair(t, req, resp, 1<<20)
	if len(rq.msgs) != 1 || rq.msgs[0].Flags&FlagHTTP09 != 0 || len(rq.msgs[0].Headers) != 7 {
		t.Fatalf("missing protocol: %q", summaries(rq))
	}
}
