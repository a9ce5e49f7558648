package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// tcpdump expected.tcpdump-*.out: packet printouts, not HTTP logs. Only the
// HTTP start lines tcpdump's HTTP printer decodes are turned into checks:
//
//   - "-A" style: "... length N: HTTP: GET / HTTP/1.1" on the packet line;
//   - "-v" style: "... length N: HTTP, length: N" followed by the indented
//     start line ("\tPOST http://h/p HTTP/1.1", "\tHTTP/1.1 200 OK").
//
// A request line requires an observed transaction on that connection (either
// orientation) with the same Method, Target and Proto; a status line one
// with the same ResponseProto and Status. A printout without such lines
// yields one NotApplicable check.

var (
	tcpdumpConn = regexp.MustCompile(`(\S+)\.(\d+) > (\S+)\.(\d+): Flags`)
	tcpdumpReq  = regexp.MustCompile(`^([A-Z][A-Z-]*) (\S+) (HTTP/\d\.\d)$`)
	tcpdumpResp = regexp.MustCompile(`^(HTTP/\d\.\d) (\d{3})(?: .*)?$`)
)

func loadTcpdump(c *Case) error {
	for _, path := range globTcpdump(c.Dir) {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file := filepath.Base(path)
		lines := strings.Split(string(b), "\n")
		for i, line := range lines {
			m := tcpdumpConn.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var start string
			switch {
			case strings.Contains(line, ": HTTP: "):
				start = line[strings.LastIndex(line, ": HTTP: ")+len(": HTTP: "):]
			case strings.HasSuffix(strings.TrimSpace(line), "HTTP, length: "+lastLength(line)) && i+1 < len(lines):
				start = lines[i+1]
			default:
				continue
			}
			start = strings.TrimSpace(start)
			a, ok1 := parseEndpoint(m[1], atoi(m[2]))
			b, ok2 := parseEndpoint(m[3], atoi(m[4]))
			if !ok1 || !ok2 {
				continue
			}
			tc := &tcpdumpCheck{file: file, line: i + 1, start: start, a: a, b: b,
				conn: fmt.Sprintf("%s.%s > %s.%s", m[1], m[2], m[3], m[4])}
			if r := tcpdumpReq.FindStringSubmatch(start); r != nil {
				tc.method, tc.target, tc.proto = r[1], r[2], r[3]
			} else if r := tcpdumpResp.FindStringSubmatch(start); r != nil {
				tc.proto, tc.status = r[1], atoi(r[2])
			} else {
				continue
			}
			c.Checks = append(c.Checks, tc)
		}
	}
	if len(c.Checks) == 0 {
		c.Checks = append(c.Checks, naCheck{"tcpdump/packet", "tcpdump printout", "no HTTP start line",
			"the printout shows no decoded HTTP request or status line"})
	}
	return nil
}

func lastLength(line string) string {
	i := strings.LastIndex(line, "length: ")
	if i < 0 {
		return "\x00"
	}
	return strings.TrimSpace(line[i+len("length: "):])
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

type tcpdumpCheck struct {
	file                  string
	line                  int
	start, conn           string
	a, b                  endpoint
	method, target, proto string
	status                int
}

func (c *tcpdumpCheck) Kind() string {
	if c.method != "" {
		return "tcpdump/request-line"
	}
	return "tcpdump/status-line"
}

func (c *tcpdumpCheck) Describe() string {
	return fmt.Sprintf("%s:%d %s %q", c.file, c.line, c.conn, c.start)
}

func (c *tcpdumpCheck) Eval(obs []Transaction) Outcome {
	var seen []string
	for i := range obs {
		t := &obs[i]
		if !t.sameConn(c.a, c.b) {
			continue
		}
		if c.method != "" {
			if t.HasRequest && t.Method == c.method && t.Target == c.target && t.Proto == c.proto {
				return pass("request observed")
			}
			seen = append(seen, strings.TrimSpace(t.Method+" "+t.Target+" "+t.Proto))
		} else {
			if t.HasResponse && t.Status == c.status && t.ResponseProto == c.proto {
				return pass("response observed")
			}
			seen = append(seen, fmt.Sprintf("%s %d", t.ResponseProto, t.Status))
		}
	}
	if len(seen) == 0 {
		return fail("no transactions observed on %s", c.conn)
	}
	return fail("not observed; the connection has %q", seen)
}
