package alert

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/finding"
)

// InvestigationPath is where, under the Grafana base URL, a finding's
// investigation board is; the finding's id follows it.
const InvestigationPath = "/d/apiwatch-investigation/finding-investigation?var-finding="

// investigationURL links a finding's board; "" without a Grafana URL.
func investigationURL(grafana, id string) string {
	if grafana == "" {
		return ""
	}
	return grafana + InvestigationPath + url.QueryEscape(id)
}

// Block Kit, the part of it a message uses.
type (
	slackMessage struct {
		Text   string       `json:"text"` // the notification's text
		Blocks []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text,omitempty"`
		Fields   []slackText `json:"fields,omitempty"`
		Elements []slackText `json:"elements,omitempty"`
	}
	slackText struct {
		Type string `json:"type"` // plain_text or mrkdwn
		Text string `json:"text"`
	}
)

// Block Kit limits.
const (
	slackHeaderMax  = 150
	slackFieldMax   = 2000
	slackSectionMax = 3000
	slackMaxLines   = 5 // evidence lines shown
)

type slackFormat struct{ grafana string }

func (s slackFormat) header(http.Header, *job, []byte, time.Time) {}

var severityEmoji = map[finding.Severity]string{
	finding.Low: ":large_blue_circle:", finding.Medium: ":large_yellow_circle:",
	finding.High: ":large_orange_circle:", finding.Critical: ":red_circle:",
}

func (s slackFormat) body(j *job) ([]byte, error) {
	f := j.f
	link := investigationURL(s.grafana, f.ID)
	what := f.Detector
	if f.Kind != "" {
		what += " (" + f.Kind + ")"
	}
	var m slackMessage
	if j.action == resolve {
		m.Text = "Resolved: [" + f.Severity.String() + "] " + what + " on " + f.Endpoint
		text := ":white_check_mark: *Resolved* · " + f.Severity.String() + " " + esc(what) + " on `" + esc(f.Endpoint) + "`\n" +
			"Actor: " + actorText(f) + " · last seen " + stamp(f.LastSeen)
		if link != "" {
			text += "\n<" + link + "|Open the investigation board>"
		}
		m.Blocks = []slackBlock{mrkdwnSection(text), contextBlock(f)}
		return json.Marshal(m)
	}
	m.Text = truncate("["+strings.ToUpper(f.Severity.String())+"] "+what+" on "+f.Endpoint+": "+f.Summary, slackSectionMax)
	m.Blocks = []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(
			strings.ToUpper(f.Severity.String())+" · "+what+" on "+f.Endpoint, slackHeaderMax)}},
		mrkdwnSection(esc(f.Summary)),
		{Type: "section", Fields: []slackText{
			field("Severity", severityEmoji[f.Severity]+" "+f.Severity.String()),
			field("Detector", esc(what)),
			field("Endpoint", "`"+esc(f.Endpoint)+"`"),
			field("Actor", actorText(f)),
			field("First seen", stamp(f.FirstSeen)),
			field("Last seen", stamp(f.LastSeen)),
			field("Client IPs", clientIPs(f.ClientIPs)),
			field("Counts", counts(f.Counts)),
		}},
	}
	if ev := evidenceText(f.Evidence); ev != "" {
		m.Blocks = append(m.Blocks, mrkdwnSection("*Evidence*\n"+ev))
	}
	if link != "" {
		m.Blocks = append(m.Blocks, mrkdwnSection("<"+link+"|:mag: Open the investigation board>"))
	}
	m.Blocks = append(m.Blocks, contextBlock(f))
	return json.Marshal(m)
}

func mrkdwnSection(text string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(text, slackSectionMax)}}
}

func field(name, value string) slackText {
	if value == "" {
		value = "—"
	}
	return slackText{Type: "mrkdwn", Text: truncate("*"+name+"*\n"+value, slackFieldMax)}
}

func contextBlock(f *finding.Finding) slackBlock {
	return slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn",
		Text: "apiwatch finding `" + esc(f.ID) + "` · version " + strconv.FormatUint(f.Version, 10)}}}
}

func actorText(f *finding.Finding) string {
	switch {
	case f.Actor != "" && f.ActorKind != "":
		return "`" + esc(f.Actor) + "` (" + esc(f.ActorKind) + ")"
	case f.Actor != "":
		return "`" + esc(f.Actor) + "`"
	case f.Subject != "":
		return esc(f.Subject)
	}
	return "—"
}

func stamp(t finding.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func clientIPs(ips []string) string {
	const show = 5
	if len(ips) <= show {
		return esc(strings.Join(ips, ", "))
	}
	return esc(strings.Join(ips[:show], ", ")) + fmt.Sprintf(" (+%d)", len(ips)-show)
}

func counts(c map[string]int64) string {
	var b strings.Builder
	for _, k := range sortedKeys(c) {
		if b.Len() > 0 {
			b.WriteString(" · ")
		}
		fmt.Fprintf(&b, "%s %d", esc(k), c[k])
	}
	return b.String()
}

func evidenceText(ev []finding.Evidence) string {
	var b strings.Builder
	for i, e := range ev {
		if i == slackMaxLines {
			fmt.Fprintf(&b, "• and %d more\n", len(ev)-i)
			break
		}
		fmt.Fprintf(&b, "• %s: %s observed vs threshold %s (baseline %s, floor %s)",
			esc(e.Metric), num(e.Observed), num(e.Threshold), num(e.Baseline), num(e.Floor))
		if e.Note != "" {
			b.WriteString(" — " + esc(e.Note))
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// esc escapes what mrkdwn treats as markup.
var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// truncate shortens s to at most n bytes, on a rune boundary, marking the
// cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	if n < len(mark) {
		return ""
	}
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
