package http1

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The streams under testdata/streams are the client and server byte streams
// of suricata-verify captures (extracted in order, retransmissions dropped).
// suricata recovers the EICAR body of every HTTP Evader case; so must we.

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

func TestEvaderStreams(t *testing.T) {
	files, _ := filepath.Glob("testdata/streams/http-evader-*.req")
	if len(files) == 0 {
		t.Fatal("no streams")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".req")
		req, err1 := os.ReadFile(f)
		resp, err2 := os.ReadFile(strings.TrimSuffix(f, ".req") + ".resp")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
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
	read := func(n string) []byte {
		b, err := os.ReadFile("testdata/streams/" + n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rq, rs := parsePair(t, read("http-multiple100.req"), read("http-multiple100.resp"), 1<<20)
	got := summaries(rs)
	if len(rq.msgs) != 1 || rq.msgs[0].BodyLen != 34498 || len(got) != 3 ||
		got[2] != `200 HTTP/1.1 h=5 wire=27 len=27 dec=27 body="file uploaded successfully\n" []` {
		t.Fatalf("multiple100: %q %q", summaries(rq), got)
	}
	rq, _ = parsePair(t, read("http-missing-protocol.req"), read("http-missing-protocol.resp"), 1<<20)
	if len(rq.msgs) != 1 || rq.msgs[0].Flags&FlagHTTP09 != 0 || len(rq.msgs[0].Headers) != 7 {
		t.Fatalf("missing protocol: %q", summaries(rq))
	}
}
