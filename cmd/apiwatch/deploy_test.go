package main

// Tests of deploy/ (systemd units, Kubernetes manifests, the Dockerfile,
// the compose file) and of the generated docs: every command line, config
// file and APIWATCH_ variable they hold is run through apiwatch's own flag
// parsing and config loading, so that they cannot name a flag that does not
// exist or a value that does not parse.

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const repoRoot = "../.."

// parsedCommand is an apiwatch command line as the binary would parse it.
type parsedCommand struct {
	cmd *cobra.Command
}

// flag returns a flag's value after the command line, environment and
// config file were applied.
func (p parsedCommand) flag(name string) string {
	f := p.cmd.Flags().Lookup(name)
	if f == nil {
		return ""
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), ",")
	}
	return f.Value.String()
}

// knownEnv are the APIWATCH_ variables cmd reads: one per flag, and the
// secrets that are no flag.
func knownEnv(root, cmd *cobra.Command) map[string]bool {
	env := map[string]bool{}
	add := func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" {
			env[envName(f.Name)] = true
		}
	}
	cmd.Flags().VisitAll(add)
	root.PersistentFlags().VisitAll(add)
	if cmd.Flags().Lookup("secret-file") != nil {
		env[envSecret] = true
	}
	if cmd.Flags().Lookup("kafka-password-file") != nil {
		env[envKafkaPassword] = true
	}
	if cmd.Flags().Lookup("clickhouse-password-file") != nil {
		env[envClickhousePassword] = true
	}
	return env
}

// parseDeployed runs an apiwatch command line found in a deployment
// artefact through the real root command, up to the point where the
// subcommand would start: flags parsed, positional arguments checked, the
// environment and the --config file applied. files maps paths the artefact
// uses (in the container or on the host) to their content here; env is
// the process environment the artefact gives (other APIWATCH_ variables
// are cleared meanwhile). Variables other than APIWATCH_ ones are ignored.
func parseDeployed(t *testing.T, where string, args []string, env map[string]string, files map[string]string) (parsedCommand, bool) {
	t.Helper()
	root := newRootCmd()
	sub, _, err := root.Find(args)
	if err != nil || sub == root {
		t.Errorf("%s: %q is no apiwatch command (%v)", where, strings.Join(args, " "), err)
		return parsedCommand{}, false
	}
	known := knownEnv(root, sub)
	for k := range env {
		if strings.HasPrefix(k, envPrefix) && !known[k] {
			t.Errorf("%s: %s is not a variable apiwatch %s reads", where, k, sub.Name())
		}
	}
	// The files, where the artefact says they are.
	dir := t.TempDir()
	args = append([]string(nil), args...)
	for path, content := range files {
		local := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_"))
		if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, path, local)
		}
	}
	// The environment: the artefact's APIWATCH_ variables only.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		if strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, v)
		}
	}
	savedLogger, savedLevel := logger, zerolog.GlobalLevel()
	defer func() { logger = savedLogger; zerolog.SetGlobalLevel(savedLevel) }()
	sub.Run = nil
	sub.RunE = func(*cobra.Command, []string) error { return nil }
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	if err := root.Execute(); err != nil {
		t.Errorf("%s: apiwatch %s: %v", where, strings.Join(args, " "), err)
		return parsedCommand{}, false
	}
	return parsedCommand{cmd: sub}, true
}

// readFile reads a file of the repository.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigurationReference: docs/configuration.md is what `apiwatch
// config reference` prints (make docs writes it).
func TestConfigurationReference(t *testing.T) {
	out, err := runCLI(t, "config", "reference")
	if err != nil {
		t.Fatal(err)
	}
	doc := readFile(t, "docs/configuration.md")
	if doc != out {
		t.Fatalf("docs/configuration.md differs from what the code generates: run make docs\n%s", firstDiff(doc, out))
	}
	// Every flag of every command is in it, with its variable.
	root := newRootCmd()
	for _, c := range refCommands(root) {
		for _, f := range ownFlags(c, root) {
			if !strings.Contains(doc, "`--"+f.Name) || !strings.Contains(doc, "`"+envName(f.Name)+"`") {
				t.Errorf("%s --%s is not documented", c.CommandPath(), f.Name)
			}
		}
	}
	for _, v := range []string{envSecret, envKafkaPassword, envClickhousePassword, "min_objects", "sinks[].webhook_url_env"} {
		if !strings.Contains(doc, v) {
			t.Errorf("docs/configuration.md lacks %s", v)
		}
	}
}

// firstDiff shows where two texts part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  file: " + x + "\n  code: " + y
		}
	}
	return ""
}

// unit is a systemd unit file: key → values, in order.
type unit map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	u := unit{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, path)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: not key=value: %q", path, line)
			continue
		}
		u[strings.TrimSpace(k)] = append(u[strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return u
}

func (u unit) get(k string) string {
	if v := u[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// envFile reads KEY=value lines.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if v == "" {
			v = "placeholder"
		}
		env[k] = v
	}
	return env
}

// TestSystemdUnits: the sensor runs as its own user with CAP_NET_RAW and
// CAP_NET_ADMIN only, in a read-only system with a state directory for its
// spool, its secrets from an environment file and its settings from
// /etc/apiwatch/sensor.yaml (the sample, which loads); the detector has no
// capability at all. With systemd-analyze installed, both units verify
// without a warning.
func TestSystemdUnits(t *testing.T) {
	for _, tc := range []struct {
		unit, config, sample, env, command string
		caps                               string
	}{
		{"apiwatch-sensor.service", "/etc/apiwatch/sensor.yaml", "deploy/systemd/sensor.yaml", "deploy/systemd/sensor.env.example", "sensor", "CAP_NET_RAW CAP_NET_ADMIN"},
		{"apiwatch-detect.service", "/etc/apiwatch/detect.yaml", "deploy/systemd/detect.yaml", "deploy/systemd/detect.env.example", "detect", ""},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			path := "deploy/systemd/" + tc.unit
			u := parseUnit(t, path)
			want := map[string]string{
				"User": "apiwatch", "Group": "apiwatch", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
				"ProtectHome": "yes", "PrivateTmp": "yes", "AmbientCapabilities": tc.caps, "CapabilityBoundingSet": tc.caps,
				"EnvironmentFile": strings.Replace(tc.config, ".yaml", ".env", 1),
			}
			if tc.command == "sensor" {
				want["StateDirectory"] = "apiwatch"
			}
			for k, v := range want {
				if got := u.get(k); got != v {
					t.Errorf("%s: %s=%q, want %q", path, k, got, v)
				}
			}
			exec := strings.Fields(u.get("ExecStart"))
			if len(exec) < 2 || filepath.Base(exec[0]) != "apiwatch" || exec[1] != tc.command {
				t.Fatalf("%s: ExecStart=%q does not run apiwatch %s", path, u.get("ExecStart"), tc.command)
			}
			if !strings.Contains(u.get("ExecStart"), "--config "+tc.config) {
				t.Errorf("%s: ExecStart does not read --config %s", path, tc.config)
			}
			env := envFile(t, tc.env)
			p, ok := parseDeployed(t, path, exec[1:], env, map[string]string{tc.config: readFile(t, tc.sample)})
			if !ok {
				return
			}
			if tc.command == "sensor" {
				if spool := p.flag("spool-dir"); !strings.HasPrefix(spool, "/var/lib/apiwatch/") {
					t.Errorf("%s: spool-dir %q is not under the StateDirectory /var/lib/apiwatch (the only writable place)", tc.sample, spool)
				}
				if p.flag("iface") == "" || p.flag("kafka") == "" {
					t.Errorf("%s sets no iface or kafka", tc.sample)
				}
				if env[envSecret] == "" {
					t.Errorf("%s does not carry %s", tc.env, envSecret)
				}
			}
			if tc.command == "detect" && (p.flag("clickhouse") == "" || p.flag("kafka") == "") {
				t.Errorf("%s sets no clickhouse or kafka", tc.sample)
			}
			// The drain must fit in the stop timeout.
			if u.get("TimeoutStopSec") == "" || u.get("KillSignal") != "SIGTERM" {
				t.Errorf("%s: want KillSignal=SIGTERM and a TimeoutStopSec above --drain-timeout", path)
			}
			verifyUnit(t, path)
		})
	}
	if s := readFile(t, "deploy/systemd/apiwatch.sysusers"); !strings.Contains(s, "\nu apiwatch ") {
		t.Errorf("deploy/systemd/apiwatch.sysusers does not create the user apiwatch")
	}
}

// verifyUnit runs systemd-analyze verify on a copy of the unit whose
// ExecStart names this test binary (verify wants an executable there), and
// fails on anything it reports (unknown keys are only warnings to it).
func verifyUnit(t *testing.T, path string) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed: %s not verified by systemd", path)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(readFile(t, path), "/usr/local/bin/apiwatch", exe)
	copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
	os.WriteFile(copyPath, []byte(text), 0o644)
	out, err := exec.Command(sa, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}

// TestSystemdSampleConfigs: below their "---- every setting" line the
// sample configs are `apiwatch config example` verbatim (make docs).
func TestSystemdSampleConfigs(t *testing.T) {
	for _, c := range []string{"sensor", "detect"} {
		path := "deploy/systemd/" + c + ".yaml"
		s := readFile(t, path)
		i := strings.Index(s, "\n# ---- every setting")
		if i < 0 {
			t.Fatalf("%s has no \"# ---- every setting\" line", path)
		}
		tail := s[i+1:]
		tail = tail[strings.IndexByte(tail, '\n')+1:]
		want, err := runCLI(t, "config", "example", c)
		if err != nil {
			t.Fatal(err)
		}
		if tail != want {
			t.Errorf("%s differs from apiwatch config example %s below its marker: run make docs\n%s", path, c, firstDiff(tail, want))
		}
	}
}

// TestDockerfile: a multi-stage build, the binary built static (no cgo)
// with the version and commit linked in, on a distroless/static (or
// scratch) final stage that runs as an unprivileged user; the Grafana
// plugin as an optional target; a .dockerignore that keeps the sources.
func TestDockerfile(t *testing.T) {
	type stage struct {
		from, name string
		lines      []string
	}
	var stages []stage
	text := strings.ReplaceAll(readFile(t, "deploy/docker/Dockerfile"), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if strings.EqualFold(f[0], "FROM") {
			st := stage{from: f[1]}
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				st.name = f[3]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a builder and a final stage", len(stages))
	}
	byName := map[string]stage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	builder, ok := byName["builder"]
	if !ok || !strings.HasPrefix(builder.from, "golang:") {
		t.Fatalf("no builder stage FROM golang")
	}
	all := strings.Join(builder.lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "go build", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/apiwatch"} {
		if !strings.Contains(all, want) {
			t.Errorf("the builder stage lacks %q", want)
		}
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless/static or scratch", final.from)
	}
	user := ""
	for _, l := range final.lines {
		if f := strings.Fields(l); strings.EqualFold(f[0], "USER") {
			user = f[1]
		}
		if f := strings.Fields(l); strings.EqualFold(f[0], "COPY") && strings.Contains(l, "--from=") && !strings.Contains(l, "--from=builder") {
			t.Errorf("final stage copies from elsewhere than the builder: %s", l)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("final stage runs as %q: want an unprivileged user", user)
	}
	if !strings.Contains(strings.Join(final.lines, "\n"), `ENTRYPOINT ["/usr/local/bin/apiwatch"]`) {
		t.Errorf("final stage's ENTRYPOINT is not the apiwatch binary")
	}
	if p, ok := byName["plugin"]; !ok || p.from != "scratch" {
		t.Errorf("no plugin target (FROM scratch) exporting the Grafana plugin")
	}
	if !strings.Contains(strings.Join(byName["plugin-build"].lines, "\n"), "make plugin") {
		t.Errorf("the plugin-build stage does not run make plugin")
	}
	for _, l := range strings.Split(readFile(t, "deploy/docker/Dockerfile.dockerignore"), "\n") {
		switch strings.TrimSpace(l) {
		case "*", "**", "go.mod", "go.sum", "cmd", "Makefile", "dashboards":
			t.Errorf("Dockerfile.dockerignore leaves out %q, which the build needs", l)
		}
	}
}
