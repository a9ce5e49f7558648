// Package http1 parses one direction of an HTTP/1.x connection incrementally,
// from reassembled bytes handed over in arbitrary pieces, with the losses a
// passive observer suffers (gaps) and the hostile input it must survive.
//
// A Parser is pushed bytes (Feed), told about missing bytes (Gap) and about the
// end of the stream (Close). It reports each message through its Handler. It
// never blocks, never panics on any input, and keeps memory bounded by Config.
//
// The parser decides what a direction carries from its content, not its port:
// a request line makes it a request stream, a status line a response stream;
// anything else that cannot be resynchronised is reported as not HTTP.
//
// # Framing decisions
//
// Where the RFCs leave a passive observer a choice, the parser decides so:
//
//   - Content-Length: digits with leading zeros, or a comma list of equal
//     values. Anything else (sign, junk, more than 18 significant digits,
//     differing values — the latter also FlagSmuggling) is FlagParseError and
//     no length at all: a request then has no body (its bytes are resynced
//     over as garbage), a response runs to the close.
//   - Transfer-Encoding wins over Content-Length (RFC 9112 §6.3), flagged
//     FlagSmuggling. chunked must be the final coding; a response whose final
//     coding is not chunked runs to the close and its other transfer codings
//     are decoded like content codings; such a request is FlagParseError and
//     falls back to Content-Length.
//   - No body: responses to HEAD, 1xx and 204/304 without framing headers.
//     A 1xx, 204 or 304 that carries Transfer-Encoding or a non-zero
//     Content-Length is read as browsers (and suricata) read it, with its
//     body (FlagUnexpectedBody) — unless the next bytes start "HTTP/", which
//     means the header only described a cached representation. A 1xx without
//     framing is interim (FlagInterim) and the next response answers the same
//     request without asking ResponseMethod again.
//   - 101, and 2xx answering CONNECT, end the direction (KindTunnel,
//     FlagUpgrade). The request side becomes a tunnel right after a CONNECT
//     head (it cannot see the answer); after a request with Upgrade, bytes
//     that are not a start line are tunnel bytes; "PRI * HTTP/2.0" on a known
//     request side is h2c after an Upgrade (tunnel), at a stream start it is
//     HTTP/2 with prior knowledge (KindNotHTTP).
//   - HTTP/0.9: "METHOD target" with no version is a 0.9 request only if no
//     header line follows in the bytes at hand (else it is HTTP/1.0 missing
//     its version, FlagParseError); a 0.9 request is therefore only reliably
//     recognised when its line arrives whole, as it does on the wire. A stream
//     whose first bytes are no start line while the Handler's ResponseMethod
//     knows a pending request is a 0.9 response: raw bytes to the close.
//   - Resynchronisation (after garbage, a gap outside a known-length body,
//     or a midstream start) scans line starts for a strict start line
//     ("METHOD SP target SP HTTP/1.x" with an upper-case method, or
//     "HTTP/1.x NNN"); first bytes that can be neither are rejected without
//     copying. A stream that shows no start line within 4 KiB is KindNotHTTP;
//     one starting with a TLS record (0x16) is at once.
//   - Gaps inside a Content-Length body or chunk data keep sync (FlagGap;
//     Body then holds the bytes around the hole, and decoding stops at it);
//     a gap in a close-delimited body is counted; anywhere else the message
//     is reported FlagGap|FlagTruncated and the stream resynchronised.
//   - Bodies are never buffered whole: Body keeps the first BodyKeep bytes;
//     an encoded body is buffered up to max(BodyKeep, 256 KiB) and decoded at
//     the message end (a longer one decodes its prefix: FlagBodyCapped).
//     Decoding stops at MaxDecodedBytes or MaxDecodeRatio × max(encoded,
//     1 KiB) bytes. "deflate" is zlib when the first two bytes are a zlib
//     header, raw deflate otherwise. A body that cannot be decoded at all
//     keeps its raw bytes with DecodedLen -1 and FlagDecodeError.
//   - Trailer fields are skipped (counted in WireBodyLen, not kept).
package http1

// Kind is what a Parser has decided its direction carries.
type Kind uint8

const (
	KindUnknown  Kind = iota // nothing decisive seen yet
	KindRequest              // client side: requests
	KindResponse             // server side: responses
	KindNotHTTP              // bytes that are not HTTP/1.x (TLS, HTTP/2 preface, binary)
	KindTunnel               // after CONNECT or a 101 Upgrade: bytes are another protocol, skipped
)

// Flags mark what went wrong or was unusual in a message.
type Flags uint16

const (
	FlagGap            Flags = 1 << iota // bytes of the message were lost (reassembly gap)
	FlagTruncated                        // the message did not complete (stream ended or gave up), or its body was cut at a cap
	FlagParseError                       // malformed start line, header or chunk framing
	FlagSmuggling                        // both Transfer-Encoding and Content-Length present, or conflicting Content-Lengths
	FlagChunked                          // Transfer-Encoding: chunked
	FlagCloseDelimited                   // body ran to the end of the connection
	FlagInterim                          // a 1xx interim response (not 101)
	FlagHTTP09                           // HTTP/0.9 simple request or response
	FlagDecodeError                      // content decoding failed (corrupt gzip, unknown encoding)
	FlagBodyCapped                       // decoded body exceeded the decode cap or ratio cap: DecodedLen is a lower bound
	FlagHeadersCapped                    // more headers than Config.MaxHeaders, or a header block over Config.MaxHeaderBytes: extra headers dropped
	FlagObsFold                          // obsolete header line folding was unfolded
	FlagUpgrade                          // CONNECT accepted or 101 Switching Protocols: the rest of the stream is a tunnel
	FlagUnexpectedBody                   // a 1xx, 204 or 304 response carried a body framed by its headers (read as browsers do)
)

// Header is one header field. Name and Value are views into the Message's
// buffer: valid as long as the Message is.
type Header struct {
	Name, Value []byte
}

// Message is one parsed request or response. A Message passed to a Handler is
// owned by the Parser and valid only during the call: use CopyTo to keep it.
type Message struct {
	IsRequest bool
	// Start is the capture time (Unix ns) of the first byte of the message,
	// End of its last byte.
	Start, End int64

	// Request line. Method is as sent (case preserved); Target is the
	// request-target as sent (origin form, absolute form, authority form, *).
	Method, Target []byte
	// Status line. Status is 0 when the line did not carry a valid code.
	Status int
	Reason []byte
	// Proto is the protocol token as sent ("HTTP/1.1"); empty for HTTP/0.9.
	Proto        []byte
	Major, Minor int

	// Headers in the order they were sent, at most Config.MaxHeaders.
	Headers []Header
	// HeaderBytes is the size on the wire of the start line and header block.
	HeaderBytes int

	// WireBodyLen counts body bytes on the wire, chunk framing included.
	WireBodyLen int64
	// BodyLen counts body bytes after transfer decoding (de-chunked): the
	// figure suricata calls http.length.
	BodyLen int64
	// DecodedLen counts body bytes after content decoding (gzip, deflate, br,
	// stacked); equal to BodyLen when there is no Content-Encoding; -1 when
	// decoding was not possible (see FlagDecodeError, FlagTruncated).
	DecodedLen int64
	// Body is the first Config.BodyKeep bytes of the decoded body.
	Body []byte

	Flags Flags

	buf []byte // CopyTo's storage for the views above
}

// Handler receives what a Parser finds.
type Handler interface {
	// RequestHead is called when a request's start line and headers are
	// parsed, before its body, so the other direction can learn the method
	// early (a response to HEAD has no body, a 2xx to CONNECT opens a tunnel).
	RequestHead(m *Message)
	// ResponseMethod returns the method of the request that the response now
	// being parsed answers, or nil when unknown (then the response is framed
	// as if it answered a GET).
	ResponseMethod() []byte
	// Message is called once per complete (or given-up) message, interim 1xx
	// responses included (marked FlagInterim).
	Message(m *Message)
}

// Config bounds what a Parser keeps. The zero value is usable: every zero
// field takes the default documented beside it.
type Config struct {
	// MaxHeaderBytes caps the start line plus header block. Default 64 KiB,
	// above any legitimate client (Apache and nginx default to 8 KiB lines).
	MaxHeaderBytes int
	// MaxHeaders caps the headers kept per message. Default 128.
	MaxHeaders int
	// BodyKeep is how many decoded body bytes are kept in Message.Body.
	// Default 64 KiB: enough for the JSON shape of typical API responses.
	BodyKeep int
	// MaxDecodedBytes caps content decoding per message; beyond it decoding
	// stops (FlagBodyCapped). Default 1 MiB.
	MaxDecodedBytes int64
	// MaxDecodeRatio caps decoded/compressed size, the signature of a
	// decompression bomb. Default 100.
	MaxDecodeRatio int
}
