package jsonstr

import "testing"

func TestUnescape(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		// Twice into the same buffer: appends after what dst holds.
		buf := Unescape(nil, []byte(in))
		if string(buf) != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, buf, want)
		}
		if got := Unescape([]byte("x"), []byte(in)); string(got) != "x"+want {
			t.Errorf("Unescape appended %q", got)
		}
	}
	f(`plain`, "plain")
	f(`a\"b\\c\/d`, `a"b\c/d`)
	f(`\n\t\r\b\f`, "\n\t\r\b\f")
	f(`caf\u00e9`, "café")
	f(`\ud83d\ude00`, "😀")          // surrogate pair
	f(`\ud83d`, "\uFFFD")           // lone surrogate
	f(`\u12`, "u12")                // cut escape: kept leniently
	f(`\uzzzz`, "uzzzz")            // bad escape
	f(`ends with \`, `ends with \`) // a trailing backslash stays
	f(`Alice%40x`, "Alice%40x")     // not JSON's business
}
