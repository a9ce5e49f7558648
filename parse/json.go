package parse

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/apiwatch/apiwatch/parse/http1"
)

// TransactionJSON is the human-readable form of a Transaction written by
// `apiwatch analyze --events`. Credentials in headers are redacted: the
// output of a sensor must never carry secrets in clear text.
type TransactionJSON struct {
	Start    time.Time    `json:"start"`
	End      time.Time    `json:"end"`
	Client   string       `json:"client"`
	Server   string       `json:"server"`
	VLAN     []uint16     `json:"vlan,omitempty"`
	VNI      uint32       `json:"vni,omitempty"`
	Request  *MessageJSON `json:"request,omitempty"`
	Response *MessageJSON `json:"response,omitempty"`
	Interim  int          `json:"interim_responses,omitempty"`
	Flags    []string     `json:"flags,omitempty"`
}

// MessageJSON is one message of a TransactionJSON.
type MessageJSON struct {
	Method      string      `json:"method,omitempty"`
	Target      string      `json:"target,omitempty"`
	Status      int         `json:"status,omitempty"`
	Reason      string      `json:"reason,omitempty"`
	Proto       string      `json:"proto,omitempty"`
	Host        string      `json:"host,omitempty"`
	ContentType string      `json:"content_type,omitempty"`
	Headers     [][2]string `json:"headers,omitempty"`
	HeaderBytes int         `json:"header_bytes"`
	WireBody    int64       `json:"body_wire_bytes"`
	Body        int64       `json:"body_bytes"`
	Decoded     int64       `json:"body_decoded_bytes"`
	Flags       []string    `json:"flags,omitempty"`
}

// JSON returns the JSON view of t. It copies everything it needs, so the
// result outlives t.
func (t *Transaction) JSON() TransactionJSON {
	j := TransactionJSON{
		Client:  netip.AddrPortFrom(t.Flow.SrcIP, t.Flow.SrcPort).String(),
		Server:  netip.AddrPortFrom(t.Flow.DstIP, t.Flow.DstPort).String(),
		VNI:     t.Flow.VNI,
		Interim: t.Interim,
	}
	if t.Flow.VLAN != [2]uint16{} {
		j.VLAN = t.Flow.VLAN[:]
	}
	var start, end int64
	if m := t.Request; m != nil {
		j.Request = messageJSON(m)
		start, end = m.Start, m.End
	}
	if m := t.Response; m != nil {
		j.Response = messageJSON(m)
		if start == 0 {
			start = m.Start
		}
		end = m.End
	}
	j.Start, j.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
	for _, f := range [...]struct {
		flag TxFlags
		name string
	}{{TxUnanswered, "unanswered"}, {TxNoRequest, "no_request"}, {TxQueueOverflow, "queue_overflow"}} {
		if t.Flags&f.flag != 0 {
			j.Flags = append(j.Flags, f.name)
		}
	}
	return j
}

func messageJSON(m *http1.Message) *MessageJSON {
	j := &MessageJSON{
		Method:      string(m.Method),
		Target:      string(m.Target),
		Status:      m.Status,
		Reason:      string(m.Reason),
		Proto:       string(m.Proto),
		Host:        string(m.Header("Host")),
		ContentType: string(m.Header("Content-Type")),
		HeaderBytes: m.HeaderBytes,
		WireBody:    m.WireBodyLen,
		Body:        m.BodyLen,
		Decoded:     m.DecodedLen,
		Flags:       FlagNames(m.Flags),
	}
	for _, h := range m.Headers {
		v := string(h.Value)
		if isCredentialHeader(h.Name) {
			v = "[redacted]"
		}
		j.Headers = append(j.Headers, [2]string{string(h.Name), v})
	}
	return j
}

var credentialHeaders = [][]byte{
	[]byte("authorization"), []byte("proxy-authorization"), []byte("cookie"), []byte("set-cookie"),
	[]byte("x-api-key"), []byte("api-key"), []byte("x-auth-token"), []byte("x-access-token"),
	[]byte("x-csrf-token"), []byte("x-xsrf-token"),
}

func isCredentialHeader(name []byte) bool {
	for _, c := range credentialHeaders {
		if bytes.EqualFold(name, c) {
			return true
		}
	}
	return false
}

var flagNames = []struct {
	flag http1.Flags
	name string
}{
	{http1.FlagGap, "gap"},
	{http1.FlagTruncated, "truncated"},
	{http1.FlagParseError, "parse_error"},
	{http1.FlagSmuggling, "smuggling"},
	{http1.FlagChunked, "chunked"},
	{http1.FlagCloseDelimited, "close_delimited"},
	{http1.FlagInterim, "interim"},
	{http1.FlagHTTP09, "http09"},
	{http1.FlagDecodeError, "decode_error"},
	{http1.FlagBodyCapped, "body_capped"},
	{http1.FlagHeadersCapped, "headers_capped"},
	{http1.FlagObsFold, "obs_fold"},
	{http1.FlagUpgrade, "upgrade"},
	{http1.FlagUnexpectedBody, "unexpected_body"},
	{http1.FlagBodyNotKept, "body_not_kept"},
}

// FlagNames returns the names of the flags set in f, in a fixed order.
func FlagNames(f http1.Flags) []string {
	var out []string
	for _, n := range flagNames {
		if f&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	return out
}
