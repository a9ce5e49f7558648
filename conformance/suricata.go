package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Suricata-verify test.yaml: checks are filters over Suricata's eve.json
// events: `count` events must match every field of `match` (partial: only
// listed fields are asserted). We map eve events onto apiwatch transactions:
//
//   - event_type http: one eve http event per HTTP transaction. The number
//     of observed transactions matching all mapped fields must equal count.
//   - event_type fileinfo: one event per file, i.e. per message body
//     (response body; request body of POST/PUT; each multipart/form-data
//     part with a filename). At least `count` observed files must match (a lower
//     bound: whether Suricata opens a file for an empty body is not
//     modelled, so empty bodies are not files here); count 0: none.
//   - event_type alert with alert.signature_id: the rule of that sid in
//     test.rules, when it is simple enough (see rules.go), must match at
//     least one transaction that also matches the check's http.* fields
//     (alerts can repeat per transaction and per packet, so count>0 means
//     "fires"); count 0: no transaction matches. When the rule cannot be
//     evaluated but the check carries http.* fields and count>0, only the
//     fields are checked (an alert event with those fields implies such a
//     transaction).
//   - everything else (dns, tls, flow, netflow, anomaly, stats events,
//     alerts without sid or on stream/decoder events, http2 fields, ...) is
//     NotApplicable.
//
// Field mapping (eve → Transaction):
//
//	http.hostname         Host without port, lowercased (libhtp normalizes);
//	                      also the authority of an absolute-form or CONNECT target
//	http.url              Target exactly (Suricata logs the request URI as sent)
//	http.http_method      Method
//	http.protocol         Proto (request protocol)
//	http.status           Status (int or string in YAML)
//	http.length           ResponseBodyLen (response body after transfer decoding)
//	http.http_user_agent  UserAgent
//	http.http_refer       Referer
//	http.http_content_type  media type of ContentType: part before ';',
//	                      trimmed, case-insensitive (eve logs it without parameters)
//	http.redirect         response Location header
//	http.request_headers[i].name/value, .__len (and response_headers)
//	                      RequestHeaders[i] (order as sent), len(RequestHeaders)
//	http.http_request_body / http_response_body  base64 of the body prefix: the
//	                      decoded body must start with it
//	src_ip/dest_ip/src_port/dest_port  the connection's endpoints in either
//	                      orientation (eve orients by flow or by packet direction)
//	proto (TCP), app_proto (http)  always true for apiwatch transactions
//	tx_id, fileinfo.tx_id  index of the transaction in its connection, restarting
//	                      at 0 after a protocol change (CONNECT 2xx, 101): Suricata
//	                      starts a new app-layer state there (http-connect-simple
//	                      expects tx_id 0 for both the CONNECT and the tunnelled GET)
//	fileinfo.size         decoded body length (after content decoding), gap bytes
//	                      included as Suricata counts them; a length 2 short is
//	                      undecidable (libhtp counts a stray CRLF after a
//	                      Content-Length body into the file, see fileFieldPred)
//	fileinfo.filename     Content-Disposition filename, else the URI path without
//	                      query, as sent or percent-decoded, as Suricata names files
//	fileinfo.gaps         Gap
//	fileinfo.state        CLOSED: neither Gap nor Truncated; TRUNCATED: Gap or Truncated
//	fileinfo.sha256       SHA-256 of the decoded body, when the whole body was
//	                      captured (else the check is NotApplicable); ignored
//	                      when gaps is true (Suricata then logs the empty-input hash)
//
// Ignored fields (identify the event, not the transaction, or describe the
// alert/logging): pcap_cnt, pkt_src, direction, vlan, ether.*, flow.* and
// http.length in alerts (a snapshot at alert time, not the final length),
// alert.{action,category,gid,rev,severity,signature}, metadata.*,
// fileinfo.stored. They are listed in the check's description.

// suricataFile is the part of test.yaml we read.
type suricataFile struct {
	Requires any              `yaml:"requires"`
	Args     any              `yaml:"args"`
	Checks   []map[string]any `yaml:"checks"`
}

func loadSuricata(c *Case) error {
	b, err := os.ReadFile(filepath.Join(c.Dir, "test.yaml"))
	if err != nil {
		return err
	}
	var f suricataFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return err
	}
	// test.rules, plus any other rule file of the test (1.rules,
	// firewall.rules, min8.rules); later files do not override test.rules.
	rules := map[int]*Rule{}
	files, _ := filepath.Glob(filepath.Join(c.Dir, "*.rules"))
	sort.Slice(files, func(i, j int) bool {
		return filepath.Base(files[i]) == "test.rules" && filepath.Base(files[j]) != "test.rules"
	})
	for _, p := range files {
		rs, err := LoadRules(p)
		if err != nil {
			return err
		}
		for sid, r := range rs {
			if rules[sid] == nil {
				rules[sid] = r
			}
		}
	}
	c.Notes = suricataNotes(c.Dir, f)
	c.Settings = suricataSettings(f)
	for i, raw := range f.Checks {
		c.Checks = append(c.Checks, buildSuricataCheck(i, raw, rules))
	}
	return nil
}

// suricataArgs returns the command-line arguments a case runs suricata with.
func suricataArgs(f suricataFile) []string {
	var args []string
	switch a := f.Args.(type) {
	case string:
		args = append(args, a)
	case []any:
		for _, x := range a {
			args = append(args, fmt.Sprint(x))
		}
	}
	return args
}

// suricataSettings returns the case's `--set key=value` configuration
// overrides.
func suricataSettings(f suricataFile) map[string]string {
	set := map[string]string{}
	for _, a := range suricataArgs(f) {
		fields := strings.Fields(a)
		for i := 0; i+1 < len(fields); i++ {
			if fields[i] == "--set" {
				if k, v, ok := strings.Cut(fields[i+1], "="); ok {
					set[k] = v
				}
			}
		}
	}
	return set
}

func suricataNotes(dir string, f suricataFile) string {
	var notes []string
	for _, a := range suricataArgs(f) {
		for _, part := range strings.Split(a, "--set") {
			part = strings.TrimSpace(strings.ReplaceAll(part, "-k none", ""))
			if part != "" {
				notes = append(notes, part)
			}
		}
	}
	if exists(filepath.Join(dir, "suricata.yaml")) {
		notes = append(notes, "custom suricata.yaml")
	}
	if f.Requires != nil {
		notes = append(notes, fmt.Sprintf("requires %v", f.Requires))
	}
	return strings.Join(notes, "; ")
}

// flatten turns nested maps into dotted keys and lists into key[i].
func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, vv, out)
		}
	case []any:
		for i, vv := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), vv, out)
		}
	default:
		out[prefix] = v
	}
}

// txPred is a condition on one transaction (i is its index in obs, idx its
// index within its connection).
type txPred struct {
	key  string
	want any
	fn   func(t *Transaction, idx int) bool
}

// filePred is a condition on one file; it may be undecidable (ok=false).
type filePred struct {
	key  string
	want any
	fn   func(f *fileView) (match, ok bool)
}

type suricataCheck struct {
	event     string
	count     int
	fields    map[string]any
	ignored   []string
	txPreds   []txPred
	filePreds []filePred
	httpField bool   // the check carries http.* fields
	rule      *Rule  // alert: the rule of the sid, nil if not found
	sid       int    // alert: signature id, 0 if none
	ruleNote  string // alert: why the rule is not evaluated
	// fieldsOnly: alert whose rule is not evaluated; only its http.* fields are
	fieldsOnly bool
}

func (c *suricataCheck) Kind() string { return "suricata/" + c.event }

func (c *suricataCheck) Describe() string {
	keys := make([]string, 0, len(c.fields))
	for k := range c.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s count=%d {", c.event, c.count)
	first := true
	for _, k := range keys {
		if k == "event_type" || isIgnoredKey(c.event, k) {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		v := fmt.Sprint(c.fields[k])
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		fmt.Fprintf(&b, "%s=%s", k, v)
	}
	b.WriteByte('}')
	if c.ruleNote != "" {
		fmt.Fprintf(&b, " (rule %d not evaluated: %s", c.sid, c.ruleNote)
		if c.fieldsOnly {
			b.WriteString("; http fields only")
		}
		b.WriteByte(')')
	}
	if len(c.ignored) > 0 {
		fmt.Fprintf(&b, " (ignored: %s)", strings.Join(c.ignored, ","))
	}
	return b.String()
}

var suricataIgnored = []string{"pcap_cnt", "pkt_src", "direction", "vlan[", "ether.",
	"alert.action", "alert.category", "alert.gid", "alert.rev", "alert.severity",
	"alert.signature", "metadata.", "fileinfo.stored"}

func isIgnoredKey(event, k string) bool {
	if k == "alert.signature_id" {
		return false
	}
	if event == "alert" && (strings.HasPrefix(k, "flow.") || k == "http.length") {
		// alert metadata is a snapshot taken when the alert fired: the flow
		// counters and the response body length seen so far (lua-memleak:
		// http.length 1201 of a 1387-byte body)
		return true
	}
	for _, p := range suricataIgnored {
		if k == p || strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), x == float64(int(x))
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

func buildSuricataCheck(i int, raw map[string]any, rules map[int]*Rule) Check {
	const kind = "suricata"
	desc := fmt.Sprintf("check #%d", i+1)
	filter, ok := raw["filter"].(map[string]any)
	if !ok {
		for k := range raw {
			return naCheck{kind + "/" + k, desc + " " + k, k + " check", "Suricata " + k + " counters are not observable"}
		}
	}
	if req, ok := filter["requires"].(map[string]any); ok {
		if v, ok := req["lt-version"]; ok {
			return naCheck{kind + "/variant", fmt.Sprintf("%s (for Suricata < %v)", desc, v), "older-version variant",
				fmt.Sprintf("check applies only to Suricata < %v; the current-version variant is evaluated", v)}
		}
	}
	count, _ := toInt(filter["count"])
	fields := map[string]any{}
	flatten("", filter["match"], fields)
	event := fmt.Sprint(fields["event_type"])
	c := &suricataCheck{event: event, count: count, fields: fields}
	desc = c.Describe()
	na := func(reason, format string, a ...any) Check {
		return naCheck{kind + "/" + event, desc, reason, fmt.Sprintf(format, a...)}
	}
	switch event {
	case "http", "fileinfo", "alert":
	case "<nil>":
		return na("no event_type", "filter without event_type counts all eve events")
	default:
		return na("event_type "+event, "eve %s events have no counterpart in apiwatch's HTTP transactions", event)
	}
	var ep endpointPred
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	gapsTrue := fields["fileinfo.gaps"] == true
	for _, k := range keys {
		v := fields[k]
		switch {
		case k == "event_type":
		case isIgnoredKey(event, k):
			c.ignored = append(c.ignored, k)
		case k == "src_ip" || k == "dest_ip" || k == "src_port" || k == "dest_port":
			if !ep.set(k, v) {
				return na("unparseable endpoint", "%s=%v is not an address/port", k, v)
			}
		case k == "proto":
			if !strings.EqualFold(fmt.Sprint(v), "TCP") {
				return na("non-TCP proto", "proto %v: apiwatch sees HTTP over TCP only", v)
			}
		case k == "app_proto":
			if fmt.Sprint(v) != "http" {
				return na("app_proto "+fmt.Sprint(v), "app_proto %v is not plain HTTP", v)
			}
		case k == "tx_id" || k == "fileinfo.tx_id":
			n, ok := toInt(v)
			if !ok {
				return na("bad tx_id", "tx_id %v", v)
			}
			c.txPreds = append(c.txPreds, txPred{k, v, func(_ *Transaction, idx int) bool { return idx == n }})
		case k == "alert.signature_id":
			c.sid, _ = toInt(v)
		case strings.HasPrefix(k, "http."):
			p, reason := httpFieldPred(k, v)
			if reason != "" {
				return na(reason, "field %s cannot be compared: %s", k, reason)
			}
			c.httpField = true
			c.txPreds = append(c.txPreds, p)
		case event == "fileinfo" && strings.HasPrefix(k, "fileinfo."):
			if k == "fileinfo.sha256" && gapsTrue {
				c.ignored = append(c.ignored, k+" (gaps)")
				continue
			}
			p, reason := fileFieldPred(k, v)
			if reason != "" {
				return na(reason, "field %s cannot be compared: %s", k, reason)
			}
			c.filePreds = append(c.filePreds, p)
		default:
			return na("field "+strings.SplitN(k, ".", 2)[0], "field %s has no counterpart in apiwatch's transactions", k)
		}
	}
	if ep.any() {
		c.txPreds = append(c.txPreds, txPred{"endpoints", nil, func(t *Transaction, _ int) bool { return ep.match(t) }})
	}
	if event == "alert" {
		switch {
		case c.sid == 0:
			return na("alert without sid", "counting all alerts needs Suricata's full rule set and decoder events")
		case rules[c.sid] == nil:
			c.ruleNote = "not in the test's rule files (built-in event rule)"
		case rules[c.sid].NotEvaluable != "":
			c.ruleNote = rules[c.sid].NotEvaluable
		default:
			c.rule = rules[c.sid]
		}
		if c.rule == nil {
			if !c.httpField || count == 0 {
				return naCheck{kind + "/alert", c.Describe(), alertNAReason(c.ruleNote),
					fmt.Sprintf("rule %d not evaluable: %s", c.sid, c.ruleNote)}
			}
			c.fieldsOnly = true
		}
	}
	return c
}

// alertNAReason shortens a rule's not-evaluable reason into a histogram category.
func alertNAReason(note string) string {
	switch {
	case strings.HasPrefix(note, "content "):
		return "rule: raw stream/packet content"
	case strings.HasPrefix(note, "keyword "):
		return "rule: " + strings.TrimPrefix(note, "keyword ")
	case strings.HasPrefix(note, "not in the test's rule files"):
		return "rule: built-in/event rule"
	}
	return "rule: " + note
}

func (c *suricataCheck) txMatches(t *Transaction, idx int) bool {
	if !t.HasRequest && !t.HasResponse {
		return false // not an HTTP transaction (e.g. an unparsed TLS flow)
	}
	for _, p := range c.txPreds {
		if !p.fn(t, idx) {
			return false
		}
	}
	return true
}

func (c *suricataCheck) Eval(obs []Transaction) Outcome {
	idx := txIndexes(obs)
	switch c.event {
	case "http":
		n := 0
		for i := range obs {
			if c.txMatches(&obs[i], idx[i]) {
				n++
			}
		}
		if n == c.count {
			return pass("%d matching transactions", n)
		}
		return fail("%d transactions match, want %d%s", n, c.count, c.nearMiss(obs, idx))
	case "alert":
		n, undecided := 0, 0
		for i := range obs {
			if !c.txMatches(&obs[i], idx[i]) {
				continue
			}
			if c.rule == nil {
				n++
				continue
			}
			switch m, decided := c.rule.matchTx(&obs[i]); {
			case m:
				n++
			case !decided:
				undecided++
			}
		}
		what := "rule " + strconv.Itoa(c.sid)
		if c.rule == nil {
			what = "the alert's http fields"
		}
		switch {
		case n == 0 && undecided > 0:
			return notApplicable("%s not found in %d bodies captured only in part", what, undecided)
		case c.count == 0 && n == 0:
			return pass("no transaction matches %s", what)
		case c.count == 0:
			return fail("%d transactions match %s, want none", n, what)
		case n > 0:
			return pass("%d transactions match %s", n, what)
		}
		return fail("no transaction matches %s%s", what, c.nearMiss(obs, idx))
	case "fileinfo":
		yes, unknown, total := 0, 0, 0
		for i := range obs {
			if !c.txMatches(&obs[i], idx[i]) {
				continue
			}
			for _, f := range filesOf(&obs[i]) {
				total++
				m, ok := true, true
				for _, p := range c.filePreds {
					pm, pok := p.fn(&f)
					if pok && !pm {
						m = false
						break
					}
					ok = ok && pok
				}
				switch {
				case m && ok:
					yes++
				case m:
					unknown++
				}
			}
		}
		switch {
		case c.count == 0 && yes == 0 && unknown == 0:
			return pass("no matching file")
		case c.count == 0 && yes == 0:
			return notApplicable("%d files could match but their bodies were not captured whole", unknown)
		case c.count == 0:
			return fail("%d files match, want none", yes)
		case yes >= c.count:
			return pass("%d matching files", yes)
		case yes+unknown >= c.count:
			return notApplicable("%d files match, %d more undecidable (body captured only in part)", yes, unknown)
		}
		return fail("%d of %d observed files match, want at least %d%s", yes, total, c.count, c.fileNearMiss(obs, idx))
	}
	return notApplicable("event %s", c.event)
}

// nearMiss names, for a failed check, the first predicate that eliminated
// the most transactions — a hint for whoever reads the table.
func (c *suricataCheck) nearMiss(obs []Transaction, idx []int) string {
	if len(obs) == 0 {
		return " (no transactions observed)"
	}
	for _, p := range c.txPreds {
		n := 0
		var seen []string
		for i := range obs {
			if p.fn(&obs[i], idx[i]) {
				n++
			} else if len(seen) < 3 {
				seen = append(seen, describeField(p.key, &obs[i], idx[i]))
			}
		}
		if n == 0 {
			return fmt.Sprintf(" (no transaction has %s=%v; observed %s)", p.key, p.want, strings.Join(seen, ", "))
		}
	}
	if c.rule != nil {
		return fmt.Sprintf(" (rule: %s)", c.rule.Text)
	}
	return ""
}

func (c *suricataCheck) fileNearMiss(obs []Transaction, idx []int) string {
	var files []string
	for i := range obs {
		if !c.txMatches(&obs[i], idx[i]) {
			continue
		}
		for _, f := range filesOf(&obs[i]) {
			if len(files) < 4 {
				files = append(files, fmt.Sprintf("%q size=%d gap=%v trunc=%v", f.name, f.size, f.tx.Gap, f.tx.Truncated))
			}
		}
	}
	if len(files) == 0 {
		return " (no files in matching transactions)"
	}
	return " (files: " + strings.Join(files, "; ") + ")"
}

func describeField(key string, t *Transaction, idx int) string {
	switch key {
	case "http.url":
		return strconv.Quote(t.Target)
	case "http.hostname":
		return strconv.Quote(t.Host)
	case "http.status":
		return strconv.Itoa(t.Status)
	case "http.http_method":
		return t.Method
	case "http.length":
		return strconv.FormatInt(t.ResponseBodyLen, 10)
	case "http.protocol":
		return strconv.Quote(t.Proto)
	case "http.http_user_agent":
		return strconv.Quote(t.UserAgent)
	case "http.http_content_type":
		return strconv.Quote(t.ContentType)
	case "tx_id", "fileinfo.tx_id":
		return strconv.Itoa(idx)
	case "endpoints":
		return fmt.Sprintf("%s:%d-%s:%d", t.SrcIP, t.SrcPort, t.DstIP, t.DstPort)
	}
	return fmt.Sprintf("%s %s", t.Method, t.Target)
}

// httpFieldPred maps one eve http.* field; reason != "" when it cannot be mapped.
func httpFieldPred(k string, v any) (txPred, string) {
	s := fmt.Sprint(v)
	p := txPred{key: k, want: v}
	eq := func(get func(t *Transaction) string) func(*Transaction, int) bool {
		return func(t *Transaction, _ int) bool { return t.HasRequest && get(t) == s }
	}
	switch k {
	case "http.hostname":
		want := strings.ToLower(s)
		p.fn = func(t *Transaction, _ int) bool {
			if !t.HasRequest {
				return false
			}
			for _, h := range hostCandidates(t) {
				if h == want {
					return true
				}
			}
			return false
		}
	case "http.url":
		p.fn = eq(func(t *Transaction) string { return t.Target })
	case "http.http_method":
		p.fn = eq(func(t *Transaction) string { return t.Method })
	case "http.protocol":
		p.fn = eq(func(t *Transaction) string { return t.Proto })
	case "http.http_user_agent":
		p.fn = eq(func(t *Transaction) string { return t.UserAgent })
	case "http.http_refer":
		p.fn = eq(func(t *Transaction) string { return t.Referer })
	case "http.status":
		n, ok := toInt(v)
		if !ok {
			return p, "non-numeric status"
		}
		p.fn = func(t *Transaction, _ int) bool { return t.HasResponse && t.Status == n }
	case "http.length":
		n, ok := toInt(v)
		if !ok {
			return p, "non-numeric length"
		}
		p.fn = func(t *Transaction, _ int) bool { return t.ResponseBodyLen == int64(n) }
	case "http.http_content_type":
		want := mediaType(s)
		p.fn = func(t *Transaction, _ int) bool { return t.HasResponse && mediaType(t.ContentType) == want }
	case "http.redirect":
		p.fn = func(t *Transaction, _ int) bool {
			return t.HasResponse && headerValue(t.ResponseHeaders, "Location") == s
		}
	case "http.http_request_body", "http.http_response_body":
		want, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return p, "body is not base64"
		}
		p.fn = func(t *Transaction, _ int) bool {
			body := t.ResponseBody
			if k == "http.http_request_body" {
				body = t.RequestBody
			}
			return bytes.HasPrefix(body, want) || (len(body) > 0 && bytes.HasPrefix(want, body) && len(body) >= MaxBodyPrefix)
		}
	case "http.request_headers.__len", "http.response_headers.__len":
		n, ok := toInt(v)
		if !ok {
			return p, "non-numeric length"
		}
		resp := strings.HasPrefix(k, "http.response")
		p.fn = func(t *Transaction, _ int) bool {
			if resp {
				return t.HasResponse && len(t.ResponseHeaders) == n
			}
			return t.HasRequest && len(t.RequestHeaders) == n
		}
	default:
		var i int
		var side, part string
		if _, err := fmt.Sscanf(strings.Replace(strings.Replace(k, "[", " ", 1), "].", " ", 1), "http.%s %d %s", &side, &i, &part); err == nil &&
			(side == "request_headers" || side == "response_headers") && (part == "name" || part == "value") {
			resp := side == "response_headers"
			col := 0
			if part == "value" {
				col = 1
			}
			p.fn = func(t *Transaction, _ int) bool {
				hs := t.RequestHeaders
				if resp {
					hs = t.ResponseHeaders
				}
				return i < len(hs) && hs[i][col] == s
			}
			return p, ""
		}
		switch {
		case strings.HasPrefix(k, "http.http2."), k == "http.version":
			return p, "HTTP/2 field (apiwatch parses HTTP/1.x)"
		case strings.Contains(k, "table_size_update"):
			return p, "HTTP/2 HPACK field (apiwatch parses HTTP/1.x)"
		case k == "http.status_string":
			return p, "non-numeric status string (Transaction.Status is an int)"
		}
		return p, "unmapped http field"
	}
	return p, ""
}

// hostCandidates: the host names libhtp could log for t, lowercased without port.
func hostCandidates(t *Transaction) []string {
	out := []string{strings.ToLower(hostOnly(t.Host))}
	tg := t.Target
	if i := strings.Index(tg, "://"); i > 0 {
		rest := tg[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			rest = rest[:j]
		}
		out = append(out, strings.ToLower(hostOnly(rest)))
	} else if strings.EqualFold(t.Method, "CONNECT") {
		out = append(out, strings.ToLower(hostOnly(tg)))
	}
	return out
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// fileView is one "file" in Suricata's sense: a message body.
type fileView struct {
	tx       *Transaction
	name     string
	body     []byte
	size     int64 // decoded length, -1 unknown
	complete bool  // body holds the whole decoded content
}

// filesOf lists the files Suricata would log for t: the response body (when
// non-empty), the request body of a POST or PUT (decode-teredo-01 expects a
// file for a plain POST body), each multipart/form-data part with a filename.
func filesOf(t *Transaction) []fileView {
	var out []fileView
	path := uriPath(t.Target)
	if t.HasResponse {
		n := t.responseDecodedLen()
		if n != 0 || t.Gap { // a body lost in a gap is still a (truncated) file
			name := path
			if fn := dispositionFilename(headerValue(t.ResponseHeaders, "Content-Disposition")); fn != "" {
				name = fn
			}
			out = append(out, fileView{t, name, t.ResponseBody, n, n >= 0 && int64(len(t.ResponseBody)) == n})
		}
	}
	if t.HasRequest {
		n := t.requestDecodedLen()
		ct := headerValue(t.RequestHeaders, "Content-Type")
		mt, params, _ := mime.ParseMediaType(ct)
		switch {
		case mt == "multipart/form-data" && params["boundary"] != "":
			r := multipart.NewReader(bytes.NewReader(t.RequestBody), params["boundary"])
			for {
				part, err := r.NextPart()
				if err != nil {
					break
				}
				var buf bytes.Buffer
				_, err = buf.ReadFrom(part)
				if part.FileName() == "" {
					continue
				}
				out = append(out, fileView{t, part.FileName(), buf.Bytes(), int64(buf.Len()), err == nil})
			}
		case (strings.EqualFold(t.Method, "POST") || strings.EqualFold(t.Method, "PUT")) && n != 0:
			out = append(out, fileView{t, path, t.RequestBody, n, n >= 0 && int64(len(t.RequestBody)) == n})
		}
	}
	return out
}

// uriPath is the percent-decoded path of a request target, without query.
func uriPath(target string) string {
	p := originForm(target)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return p
}

func dispositionFilename(cd string) string {
	if cd == "" {
		return ""
	}
	if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	// lenient: filename=foo without quotes or in a malformed header
	if i := strings.Index(strings.ToLower(cd), "filename="); i >= 0 {
		v := cd[i+len("filename="):]
		if j := strings.IndexByte(v, ';'); j >= 0 {
			v = v[:j]
		}
		return strings.Trim(strings.TrimSpace(v), `"`)
	}
	return ""
}

func fileFieldPred(k string, v any) (filePred, string) {
	p := filePred{key: k, want: v}
	s := fmt.Sprint(v)
	switch k {
	case "fileinfo.size":
		n, ok := toInt(v)
		if !ok {
			return p, "non-numeric size"
		}
		p.fn = func(f *fileView) (bool, bool) {
			if f.size == int64(n)-2 && !f.tx.Gap {
				// libhtp appends bytes that follow a Content-Length body and
				// precede the next status line (a stray CRLF) to the file:
				// http-gap-simple's 12-byte bodies are 14-byte files. The
				// Transaction cannot show those bytes: undecidable.
				return false, false
			}
			return f.size == int64(n), f.size >= 0
		}
	case "fileinfo.filename":
		p.fn = func(f *fileView) (bool, bool) {
			if f.name == s {
				return true, true
			}
			d, err := url.PathUnescape(f.name) // libhtp names files by the normalized path
			return err == nil && d == s, true
		}
	case "fileinfo.gaps":
		want, ok := v.(bool)
		if !ok {
			return p, "non-boolean gaps"
		}
		p.fn = func(f *fileView) (bool, bool) { return f.tx.Gap == want, true }
	case "fileinfo.state":
		switch s {
		case "CLOSED":
			p.fn = func(f *fileView) (bool, bool) { return !f.tx.Gap && !f.tx.Truncated, true }
		case "TRUNCATED":
			p.fn = func(f *fileView) (bool, bool) { return f.tx.Gap || f.tx.Truncated, true }
		default:
			return p, "file state " + s
		}
	case "fileinfo.sha256":
		want := strings.ToLower(s)
		p.fn = func(f *fileView) (bool, bool) {
			if !f.complete {
				return false, false
			}
			sum := sha256.Sum256(f.body)
			return hex.EncodeToString(sum[:]) == want, true
		}
	default:
		return p, "unmapped fileinfo field"
	}
	return p, ""
}

// endpointPred matches eve's src/dest ip/port against a transaction's
// connection, in either orientation.
type endpointPred struct {
	srcIP, dstIP     *endpoint
	srcPort, dstPort int
}

func (e *endpointPred) set(k string, v any) bool {
	switch k {
	case "src_ip", "dest_ip":
		ep, ok := parseEndpoint(fmt.Sprint(v), 0)
		if !ok {
			return false
		}
		if k == "src_ip" {
			e.srcIP = &ep
		} else {
			e.dstIP = &ep
		}
	case "src_port", "dest_port":
		n, ok := toInt(v)
		if !ok {
			return false
		}
		if k == "src_port" {
			e.srcPort = n
		} else {
			e.dstPort = n
		}
	}
	return true
}

func (e *endpointPred) any() bool {
	return e.srcIP != nil || e.dstIP != nil || e.srcPort != 0 || e.dstPort != 0
}

func (e *endpointPred) match(t *Transaction) bool {
	a, b := t.endpoints()
	side := func(x endpoint, ip *endpoint, port int) bool {
		return (ip == nil || ip.ip == x.ip) && (port == 0 || port == x.port)
	}
	return (side(a, e.srcIP, e.srcPort) && side(b, e.dstIP, e.dstPort)) ||
		(side(b, e.srcIP, e.srcPort) && side(a, e.dstIP, e.dstPort))
}
