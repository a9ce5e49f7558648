package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/evaluation"
)

// Truth is testdata/attacks/NAME.truth.json.
type Truth struct {
	Tool            string    `json:"tool"`
	Command         string    `json:"command"`
	Episodes        []Episode `json:"episodes"`
	BenignClientIPs []string  `json:"benign_client_ips"`
	Attempts        int       `json:"attempts"`
	Notes           string    `json:"notes"`

	// What else the capture holds, for tests that want exact numbers.
	Server       string         `json:"server"`
	Packets      int            `json:"packets"`
	FirstPacket  string         `json:"first_packet"`
	LastPacket   string         `json:"last_packet"`
	Requests     map[string]int `json:"requests"` // "CLIENT_IP METHOD /path-or-template STATUS" → count
	ServerLogged int            `json:"server_logged_requests"`
}

// Episode is one attack the detectors should find: the label evaluation
// reads, and numbers for tests that want them.
type Episode struct {
	evaluation.Label

	Attempts          int            `json:"attempts"`
	Statuses          map[string]int `json:"statuses,omitempty"`
	DistinctUsernames int            `json:"distinct_usernames,omitempty"`
	Usernames         []string       `json:"usernames,omitempty"` // the accounts taken over
	Failures          int            `json:"failures,omitempty"`
	Successes         int            `json:"successes,omitempty"`
	FailuresBefore    int            `json:"failures_before,omitempty"`
	DistinctIDs       int            `json:"distinct_ids,omitempty"`
	MinID             int            `json:"min_id,omitempty"`
	MaxID             int            `json:"max_id,omitempty"`
}

// exchange is one request seen in the capture and its response.
type exchange struct {
	client         netip.Addr
	method, path   string
	status         int
	reqAt, respAt  time.Time
	conn           string
	username       string // from the server log
	serverOutcome  string
	serverLoggedAt time.Time
}

func runTruth(args []string) error {
	fs := flag.NewFlagSet("truth", flag.ExitOnError)
	scenario := fs.String("scenario", "", "hydra-json-stuffing, hydra-form-bruteforce or ffuf-enumeration")
	pcapPath := fs.String("pcap", "", "capture `FILE` (pcap or pcap.gz)")
	attacker := fs.String("attacker", "", "attacker `IP`")
	server := fs.String("server", "", "server `IP`")
	benign := fs.String("benign", "", "comma-separated benign client `IPS`")
	after := fs.String("after", "", "attack packets are those at or after this time (unix seconds with fraction); default: all of the attacker's")
	tool := fs.String("tool", "", "tool and version")
	command := fs.String("command", "", "exact command line")
	serverLog := fs.String("server-log", "", "the API server's JSON log")
	out := fs.String("o", "", "write the truth to `FILE` (default stdout)")
	fs.Parse(args)

	atk, err := netip.ParseAddr(*attacker)
	if err != nil {
		return fmt.Errorf("-attacker: %v", err)
	}
	srv, err := netip.ParseAddr(*server)
	if err != nil {
		return fmt.Errorf("-server: %v", err)
	}
	var from time.Time
	if *after != "" {
		f, err := strconv.ParseFloat(*after, 64)
		if err != nil {
			return fmt.Errorf("-after: %v", err)
		}
		sec := int64(f)
		from = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}

	// One pass: requests and responses per connection, and the attack's
	// first and last packets.
	var (
		exchanges   []*exchange
		open        = map[string][]*exchange{} // conn → requests awaiting a response
		first, last time.Time
		atkFirst    time.Time
		atkLast     time.Time
	)
	frames, err := readPcap(*pcapPath, func(p *packet) {
		if first.IsZero() {
			first = p.ts
		}
		last = p.ts
		if (p.src == atk || p.dst == atk) && !p.ts.Before(from) {
			if atkFirst.IsZero() {
				atkFirst = p.ts
			}
			atkLast = p.ts
		}
		if len(p.payload) == 0 {
			return
		}
		switch {
		case p.dst == srv:
			key := fmt.Sprintf("%s:%d", p.src, p.sport)
			if m, path, ok := requestLine(p.payload); ok {
				x := &exchange{client: p.src, method: m, path: path, reqAt: p.ts, conn: key}
				exchanges = append(exchanges, x)
				open[key] = append(open[key], x)
			}
		case p.src == srv:
			key := fmt.Sprintf("%s:%d", p.dst, p.dport)
			if st, ok := statusLine(p.payload); ok && len(open[key]) > 0 {
				x := open[key][0]
				open[key] = open[key][1:]
				x.status, x.respAt = st, p.ts
			}
		}
	})
	if err != nil {
		return err
	}
	if atkFirst.IsZero() {
		return errors.New("no packet of the attacker in the capture")
	}
	sort.SliceStable(exchanges, func(i, j int) bool { return exchanges[i].reqAt.Before(exchanges[j].reqAt) })

	logged, err := joinServerLog(*serverLog, exchanges)
	if err != nil {
		return err
	}

	t := Truth{
		Tool:         *tool,
		Command:      *command,
		Server:       srv.String(),
		Packets:      frames,
		FirstPacket:  first.Format(time.RFC3339Nano),
		LastPacket:   last.Format(time.RFC3339Nano),
		Requests:     map[string]int{},
		ServerLogged: logged,
	}
	if *benign != "" {
		t.BenignClientIPs = strings.Split(*benign, ",")
	}
	for _, x := range exchanges {
		t.Requests[fmt.Sprintf("%s %s %s %d", x.client, x.method, templatePath(x.path), x.status)]++
	}
	inAttack := func(x *exchange) bool { return x.client == atk && !x.reqAt.Before(from) }
	ips := []string{atk.String()}

	switch *scenario {
	case "hydra-json-stuffing", "hydra-form-bruteforce":
		path, success := "/auth/login", 200
		if *scenario == "hydra-form-bruteforce" {
			path, success = "/login", 302
		}
		ep := Episode{Label: evaluation.Label{Detector: "credential_stuffing", Endpoint: "POST " + Host + " " + path, ClientIPs: ips,
			Start: atkFirst, End: atkLast}, Statuses: map[string]int{}}
		users := map[string]bool{}
		var wins []*exchange
		for _, x := range exchanges {
			if !inAttack(x) || x.method != "POST" || x.path != path {
				continue
			}
			ep.Attempts++
			ep.Statuses[strconv.Itoa(x.status)]++
			if x.username != "" {
				users[strings.ToLower(x.username)] = true
			}
			if x.status == success {
				ep.Successes++
				wins = append(wins, x)
			} else {
				ep.Failures++
			}
		}
		ep.DistinctUsernames = len(users)
		if *scenario == "hydra-json-stuffing" {
			ep.ID, ep.Kind = "stuffing-1", "many_usernames"
		} else {
			ep.ID, ep.Kind = "bruteforce-1", "brute_force"
		}
		t.Episodes = append(t.Episodes, ep)
		t.Attempts = ep.Attempts
		// Each success after failures from the same source is a likely
		// takeover: the episode is that attempt, request to response.
		for i, w := range wins {
			fails := 0
			for _, x := range exchanges {
				if inAttack(x) && x.method == "POST" && x.path == path && x.status != success && x.reqAt.Before(w.reqAt) {
					fails++
				}
			}
			t.Episodes = append(t.Episodes, Episode{
				Label: evaluation.Label{ID: fmt.Sprintf("takeover-%d", i+1), Detector: "credential_stuffing", Kind: "takeover",
					Endpoint: ep.Endpoint, ClientIPs: ips, Start: w.reqAt, End: w.respAt},
				Attempts: 1, Successes: 1, FailuresBefore: fails, Usernames: nonEmpty(w.username),
			})
		}
	case "ffuf-enumeration":
		ep := Episode{Label: evaluation.Label{ID: "enumeration-1", Detector: "enumeration", Kind: "sequential",
			Endpoint: "GET " + Host + " /api/v1/users/{id}", ClientIPs: ips, Start: atkFirst, End: atkLast},
			Statuses: map[string]int{}}
		ids := map[int]bool{}
		for _, x := range exchanges {
			if !inAttack(x) || x.method != "GET" || !strings.HasPrefix(x.path, "/api/v1/users/") {
				continue
			}
			id, err := strconv.Atoi(strings.TrimPrefix(x.path, "/api/v1/users/"))
			if err != nil {
				continue
			}
			ep.Attempts++
			ep.Statuses[strconv.Itoa(x.status)]++
			ids[id] = true
			if ep.MinID == 0 || id < ep.MinID {
				ep.MinID = id
			}
			ep.MaxID = max(ep.MaxID, id)
		}
		ep.DistinctIDs = len(ids)
		t.Episodes = append(t.Episodes, ep)
		t.Attempts = ep.Attempts
	default:
		return fmt.Errorf("unknown -scenario %q", *scenario)
	}
	t.Notes = notes(*scenario, t)

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}

// joinServerLog gives each exchange the user name and outcome the server
// logged for it (matched by client address, method and path, in order).
func joinServerLog(path string, xs []*exchange) (int, error) {
	if path == "" {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type key struct{ remote, method, path string }
	queue := map[key][]logEntry{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return n, fmt.Errorf("%s: %v", path, err)
		}
		n++
		k := key{e.Remote, e.Method, e.Path}
		queue[k] = append(queue[k], e)
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	for _, x := range xs {
		k := key{x.conn, x.method, x.path}
		if q := queue[k]; len(q) > 0 {
			x.username, x.serverOutcome, x.serverLoggedAt = q[0].Username, q[0].Outcome, q[0].Time
			queue[k] = q[1:]
		}
	}
	return n, nil
}

func notes(scenario string, t Truth) string {
	ep := t.Episodes[0]
	statuses := func() string {
		var keys []string
		for k := range ep.Statuses {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%d x %s", ep.Statuses[k], k))
		}
		return strings.Join(parts, ", ")
	}
	attackRequests := 0
	for k, n := range t.Requests {
		if strings.HasPrefix(k, ep.ClientIPs[0]+" ") {
			attackRequests += n
		}
	}
	switch scenario {
	case "hydra-json-stuffing":
		s := fmt.Sprintf("hydra http-post-form with a JSON body (H=Content-Type: application/json) from %s against POST /auth/login: "+
			"%d attempts (%s) over %d distinct usernames with a 3-password list, each password tried across all usernames (-u). "+
			"This capture's server answers failed logins 403 {\"error\":\"invalid credentials\"}, not 401: hydra 9.4's http-post-form treats a 401 as HTTP auth and retries the same attempt for ever. "+
			"Before each POST hydra GETs the same URL for cookies (405 here): %d requests from the attacker in all, attempts counts the POSTs.",
			ep.ClientIPs[0], ep.Attempts, statuses(), ep.DistinctUsernames, attackRequests)
		if len(t.Episodes) > 1 {
			s += fmt.Sprintf(" %d attempt(s) hit a real account (200 with an access_token and Set-Cookie session): the takeover episode(s), whose start and end are that request's first packet and its response's.", ep.Successes)
		}
		return s + " Episode start/end are the first and last TCP packets to or from the attacker. Benign users (JSON and form-encoded POST /auth/login, the web form /login and /dashboard, GET /api/v1/me and /api/v1/users/{id} of their own and a colleague) run from the benign IPs before, during and after the attack; now and then one mistypes a password once."
	case "hydra-form-bruteforce":
		s := fmt.Sprintf("hydra http-post-form from %s against the HTML form POST /login: one username (frank), %d attempts (%s) from a password list; "+
			"failures are 200 with the form and \"Invalid username or password.\", the right password is a 302 to /dashboard with Set-Cookie session, and -f ends the run (attempts already in flight on the other tasks still complete). "+
			"Before each POST hydra GETs /login for cookies, and it follows the 302 to /dashboard: %d requests from the attacker in all, attempts counts the POSTs.",
			ep.ClientIPs[0], ep.Attempts, statuses(), attackRequests)
		if len(t.Episodes) > 1 {
			s += fmt.Sprintf(" The takeover episode is the successful attempt (its request's first packet to its response), after %d failures.", t.Episodes[1].FailuresBefore)
		}
		return s + " Episode start/end are the first and last TCP packets to or from the attacker. Benign users run from the benign IPs before, during and after the attack; carol logs in through the same /login form."
	default:
		return fmt.Sprintf("The attacker first logs in as its own account (mallory, id 42: curl POST /auth/login, 200, a few seconds before the episode), then ffuf walks GET /api/v1/users/FUZZ over ids %d..%d (4 threads, so roughly but not strictly in order) with that bearer token: "+
			"%d requests (%s). Ids 1..50 exist, and the server lets any authenticated user read any user (BOLA). "+
			"Episode start/end are the first and last TCP packets to or from the attacker after its login. Benign users read only their own id and a couple of colleagues'.",
			ep.MinID, ep.MaxID, ep.Attempts, statuses())
	}
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// requestLine recognises the start of an HTTP/1 request.
func requestLine(b []byte) (method, path string, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	parts := strings.SplitN(string(line), " ", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return "", "", false
	}
	switch parts[0] {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
	default:
		return "", "", false
	}
	p := parts[1]
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return parts[0], p, true
}

func statusLine(b []byte) (int, bool) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.")) || len(b) < 12 {
		return 0, false
	}
	st, err := strconv.Atoi(string(b[9:12]))
	return st, err == nil
}

// templatePath replaces numeric segments with {id}.
func templatePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if _, err := strconv.Atoi(s); err == nil && s != "" {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}
