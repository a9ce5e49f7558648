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
//   - 101, and 2xx answering CONNECT, switch protocols (FlagUpgrade on the
//     response). What follows on each side is then judged as at a stream
//     start: a start line continues HTTP (a proxy tunnel carrying plain
//     HTTP is parsed, as suricata does); anything else (TLS, WebSocket
//     frames) is KindTunnel and skipped. A CONNECT request has no body and
//     does not make its side opaque (it cannot see the answer): request
//     lines after it are HTTP (pipelined after a refused CONNECT, or
//     tunnelled), anything else is the tunnel; likewise after a request
//     with Upgrade. A 101 to "Upgrade: h2c" is a tunnel at once (HTTP/2 is
//     no HTTP/1), and "PRI * HTTP/2.0" on a known request side is h2c
//     (tunnel); at a stream start it is HTTP/2 with prior knowledge
//     (KindNotHTTP).
//   - HTTP/0.9: "METHOD target" with no version followed by more bytes is
//     HTTP/1.0 missing its version (FlagParseError), with headers; header
//     lines without a colon are skipped and counted (Stats.BadHeaders).
//     When the line ends the bytes at hand, its head is announced at once
//     (RequestHead, so a response can be framed) and the next bytes decide:
//     more lines make it a versionless 1.0 request, the end of the stream
//     (or a gap) an HTTP/0.9 request. A request line cut by the end of the
//     stream ("GET /" and a RST) is reported FlagTruncated (and FlagHTTP09
//     without a version). A stream whose first bytes are no start line
//     while the Handler's ResponseMethod knows a pending request is a 0.9
//     response: raw bytes to the close. When no request is known yet (its
//     line may still be under way), those bytes are kept (within the 4 KiB
//     detection window) and ResponseMethod is asked again when the window
//     is full or at Close (the Tracker closes the request side first).
//   - Content detection (a stream start, or a gap before any start line)
//     keeps the first 4 KiB and looks for a strict start line anywhere in a
//     line, so that one right after a binary prefix (SOCKS4/5 handshakes)
//     is found: "HTTP/1.x NNN", or "METHOD SP target SP HTTP/1.x" ending
//     the line, with an upper-case method that must be a registered one
//     (the longest such suffix of the upper-case run: SOCKS5's port "\x00P"
//     precedes "GET") unless it starts the line. A stream that shows no
//     start line within 4 KiB is KindNotHTTP; one starting with a TLS
//     record (0x16) is at once.
//   - Resynchronisation on a stream known to be HTTP (after garbage, or a
//     gap outside a known-length body) scans line starts only for a strict
//     start line; first bytes that can be neither are rejected without
//     copying.
//   - Gaps inside a Content-Length body or chunk data keep sync (FlagGap;
//     Body then holds the bytes around the hole, and decoding stops at it);
//     a gap in a close-delimited body is counted. A gap running past the
//     end of a Content-Length body completes the message (FlagGap) and the
//     stream resynchronises after it; past chunk data, the message is
//     truncated. Either way the body bytes the framing places in the gap
//     were on the wire and count in WireBodyLen and BodyLen (suricata counts
//     them in its file size). DecodedLen stays what was decoded: equal to
//     BodyLen without content coding (identity decoding is a count), else
//     the output of the bytes before the hole (a lower bound) or -1. Anywhere
//     else a gap reports the message FlagGap|FlagTruncated and the stream
//     resynchronises.
//   - Bodies are never buffered whole: Body keeps the first BodyKeep bytes;
//     an encoded body is buffered up to max(BodyKeep, 256 KiB) and decoded at
//     the message end (a longer one decodes its prefix: FlagBodyCapped).
//   - Memory is bounded by configuration, not by connections: body buffers
//     (kept and encoded) come from a Pool when a body starts and go back to
//     it when the message is reported; the Pool's byte budget
//     (Config.BodyMemory, default 64 MiB) is shared by all the Parsers of a
//     worker, and when it is spent a body is still framed and counted but
//     not kept (FlagBodyNotKept, Stats.BodyNotKept). A head over 4 KiB
//     borrows from the same Pool. Between messages a Parser keeps only
//     buffers of at most 4 KiB. The decoders (a brotli window can reach
//     16 MiB) belong to the Pool: one set per worker, not per Parser.
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
	FlagBodyNotKept                      // the body memory budget (Config.BodyMemory) was spent: Body holds a prefix or nothing, decoding covered what was kept
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
	// BodyMemory is the byte budget of the Pool a Parser makes for itself
	// when Pool is nil. Default DefaultBodyMemory (64 MiB; see there).
	BodyMemory int64
	// Pool, when set, is shared by every Parser given this Config: their
	// body buffers and decoders come from it, under its budget. The Parsers
	// sharing a Pool must run on one goroutine (one parse.Tracker does).
	Pool *Pool
}
