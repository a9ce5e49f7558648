package secret

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	os.WriteFile(file, []byte("from-file\r\n\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	missing := filepath.Join(dir, "missing")

	if s, err := Read("from-env", file); err != nil || s.Reveal() != "from-file" {
		t.Errorf("file and value: %q, %v; want the file's, without the newline", s.Reveal(), err)
	}
	if s, err := Read("from-env", ""); err != nil || s.Reveal() != "from-env" {
		t.Errorf("value only: %q, %v", s.Reveal(), err)
	}
	if s, err := Read("", ""); err != nil || !s.Empty() {
		t.Errorf("neither: %q, %v; want empty, no error", s.Reveal(), err)
	}
	for f, want := range map[string]string{missing: "does not exist", empty: "is empty"} {
		if _, err := Read("from-env", f); err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error naming the file and saying %q", f, err, want)
		}
	}
}

func TestStringDoesNotPrint(t *testing.T) {
	const pw = "hunter2"
	s := String(pw)
	js, _ := json.Marshal(map[string]any{"p": s})
	txt, _ := s.MarshalText()
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%10s", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%+v", struct{ P String }{s}), fmt.Sprintf("%#v", struct{ P String }{s}), fmt.Sprintf("%v", &s),
		string(js), string(txt),
	} {
		if strings.Contains(out, pw) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", pw)) {
			t.Errorf("shows the secret: %s", out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%q does not say %s", out, Redacted)
		}
	}
	if fmt.Sprint(String("")) != "" {
		t.Error("the empty secret should print as empty")
	}
}
