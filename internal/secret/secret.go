// Package secret reads passwords from files or the environment and keeps
// them in a type that does not print: fmt, JSON, YAML and text encoders
// all show "[redacted]". Reveal is the one way to the value.
package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Redacted is what a String shows instead of its value.
const Redacted = "[redacted]"

// String holds a secret. Its zero value is the empty secret.
type String string

// Reveal returns the secret itself: hand it to the library that needs it,
// never to a log or an error message.
func (s String) Reveal() string { return string(s) }

// Empty reports whether there is no secret.
func (s String) Empty() bool { return s == "" }

// String returns "[redacted]" (or "" for the empty secret, so that "not
// set" stays visible).
func (s String) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString hides the secret from %#v.
func (s String) GoString() string { return fmt.Sprintf("secret.String(%q)", s.String()) }

// Format hides the secret from every fmt verb (%v, %+v, %s, %q, %x, ...).
func (s String) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	case 'v':
		if f.Flag('#') {
			f.Write([]byte(s.GoString()))
			return
		}
		f.Write([]byte(s.String()))
	default:
		f.Write([]byte(s.String()))
	}
}

// MarshalText hides the secret from encoders (JSON, YAML, zerolog's
// Interface).
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON hides the secret from encoding/json.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Read returns the secret in file when file is not empty (without its
// trailing newline: "echo pw > file" is the usual way to write one), else
// value (from the environment, say). Both empty gives the empty secret:
// whether that is an error is the caller's decision. The errors name the
// file, never its content.
func Read(value, file string) (String, error) {
	if file == "" {
		return String(value), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("secret file %s does not exist: give the path of a file holding only the password", file)
		case errors.Is(err, fs.ErrPermission):
			return "", fmt.Errorf("secret file %s is not readable by this user (uid %d): fix its owner or mode", file, os.Getuid())
		}
		return "", fmt.Errorf("secret file %s: %w", file, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty: write the password into it", file)
	}
	return String(s), nil
}
