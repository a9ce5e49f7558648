package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildStatic builds apiwatch as make build and make release do (no cgo,
// stripped), with extra linker flags, into a directory of the test's.
// Without their -trimpath, which changes nothing here: it reuses what make
// test's `CGO_ENABLED=0 go build ./...` compiled, so only the link runs.
func buildStatic(t *testing.T, ldflags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "apiwatch")
	cmd := exec.Command("go", "build", "-ldflags", strings.TrimSpace("-s -w "+ldflags), "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestStaticVersionedBinary: the binary make build, make release and the
// Dockerfile produce is static (no program interpreter, no dynamic
// section: it runs on distroless/static or scratch), and `apiwatch
// version` prints the version and commit given to the linker the way the
// Makefile gives them.
func TestStaticVersionedBinary(t *testing.T) {
	bin := buildStatic(t, "-X main.version=v1.2.3-4-gabcdef0-dirty -X main.commit=abcdef0")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	for _, name := range []string{".interp", ".dynamic", ".dynsym"} {
		if f.Section(name) != nil {
			t.Errorf("section %s: the binary is dynamically linked", name)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("imports shared libraries %v", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "apiwatch v1.2.3-4-gabcdef0-dirty (commit abcdef0)"; got != want {
		t.Errorf("version printed %q, want %q", got, want)
	}
}

// TestMakeRelease: make release (dry run) builds static binaries for
// linux/amd64 and linux/arm64 with the version and commit linked in, the
// Grafana plugin, and SHA256SUMS over dist/.
func TestMakeRelease(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	cmd := exec.Command("make", "-n", "release", "VERSION=v9.9.9", "COMMIT=c0ffee0")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n release: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		"GOARCH=amd64", "GOARCH=arm64", "CGO_ENABLED=0", "-X main.version=v9.9.9", "-X main.commit=c0ffee0",
		"dist/apiwatch-v9.9.9-linux-", "sha256sum", "SHA256SUMS", "gpx_apiwatch",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("make -n release does not mention %q:\n%s", want, s)
		}
	}
}
