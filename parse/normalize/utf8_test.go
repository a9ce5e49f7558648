package normalize

import (
	"testing"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/parse"
)

// TestInvalidUTF8: hostile bytes in a request must not make its event
// unencodable (protobuf strings must be valid UTF-8).
func TestInvalidUTF8(t *testing.T) {
	n := New(Config{})
	req := msg(true, "GET /a\xff\xfe/b?x\xc3=1", "Host: h\xffost", "User-Agent: ua\xc0\xaf")
	e := n.Event(&parse.Transaction{Flow: testFlow, Request: req})
	if _, err := event.Marshal(nil, e); err != nil {
		t.Fatal("Marshal:", err)
	}
	if _, err := event.MarshalJSON(e); err != nil {
		t.Fatal("JSON:", err)
	}
}
