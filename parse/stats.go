package parse

import "github.com/apiwatch/apiwatch/parse/http1"

// Stats counts what a Tracker saw. Counters are plain integers: a Tracker
// belongs to one worker, and Add merges workers at the end of a run.
type Stats struct {
	Conns uint64 // TCP connections handed to the tracker
	// By what the connection carried, decided from content.
	HTTPConns, TunnelConns, NotHTTPConns, EmptyConns uint64

	Requests, Responses, Interim uint64 // messages reported by the parsers
	Transactions                 uint64
	Unanswered, NoRequest        uint64 // transactions missing a half
	QueueOverflow                uint64 // requests reported early: too many pending

	// Transactions with at least one message flagged so.
	WithGap, Truncated, ParseErrors, Smuggling, DecodeErrors, BodyCapped, BodyNotKept uint64
	GapEvents                                                                         uint64 // Gap calls from the reassembler
	// TLS connections whose ClientHello was reported, and those that
	// started like one but did not parse (malformed, or over the caps).
	TLSHellos, TLSUnparsed uint64
}

// Add merges o into s.
func (s *Stats) Add(o Stats) {
	dst, src := s.fields(), o.fields()
	for i := range dst {
		*dst[i] += *src[i]
	}
}

// fields lists every counter, for Add.
func (s *Stats) fields() []*uint64 {
	return []*uint64{
		&s.Conns, &s.HTTPConns, &s.TunnelConns, &s.NotHTTPConns, &s.EmptyConns,
		&s.Requests, &s.Responses, &s.Interim, &s.Transactions,
		&s.Unanswered, &s.NoRequest, &s.QueueOverflow,
		&s.WithGap, &s.Truncated, &s.ParseErrors, &s.Smuggling, &s.DecodeErrors, &s.BodyCapped, &s.BodyNotKept,
		&s.GapEvents, &s.TLSHellos, &s.TLSUnparsed,
	}
}

func (s *Stats) count(t *Transaction) {
	s.Transactions++
	if t.Flags&TxUnanswered != 0 {
		s.Unanswered++
	}
	if t.Flags&TxNoRequest != 0 {
		s.NoRequest++
	}
	if t.Flags&TxQueueOverflow != 0 {
		s.QueueOverflow++
	}
	f := t.MessageFlags()
	for _, c := range [...]struct {
		flag http1.Flags
		n    *uint64
	}{
		{http1.FlagGap, &s.WithGap},
		{http1.FlagTruncated, &s.Truncated},
		{http1.FlagParseError, &s.ParseErrors},
		{http1.FlagSmuggling, &s.Smuggling},
		{http1.FlagDecodeError, &s.DecodeErrors},
		{http1.FlagBodyCapped, &s.BodyCapped},
		{http1.FlagBodyNotKept, &s.BodyNotKept},
	} {
		if f&c.flag != 0 {
			*c.n++
		}
	}
}

func (s *Stats) countKinds(a, b http1.Kind) {
	has := func(k http1.Kind) bool { return a == k || b == k }
	switch {
	case has(http1.KindTunnel):
		s.TunnelConns++
	case has(http1.KindRequest), has(http1.KindResponse):
		s.HTTPConns++
	case has(http1.KindNotHTTP):
		s.NotHTTPConns++
	default:
		s.EmptyConns++
	}
}
