package main

import (
	"encoding"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/alert"
	"github.com/apiwatch/apiwatch/detect"
	"github.com/apiwatch/apiwatch/internal/secret"
)

// The configuration reference (docs/configuration.md) is generated from the
// commands' flag sets and the YAML types of the files flags name, so it
// cannot drift from the code: `make docs` writes it, and
// TestConfigurationReference fails when the file differs from what the
// code generates.

// envSecret keys the identity hashes when no --secret-file is given
// (normalize.go reads it).
const envSecret = "APIWATCH_SECRET"

// addReferenceCmd adds `config reference` to root's config command.
func addReferenceCmd(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "config" {
			c.AddCommand(&cobra.Command{
				Use:   "reference",
				Short: "Print every flag, environment variable and config key of every command, as Markdown (docs/configuration.md)",
				Long: `Prints the configuration reference: for every command, each flag with its
environment variable, config file key and default; the environment
variables that are not flags; and the keys of the YAML files that
--detect-config and --alerts read. 'make docs' writes it to
docs/configuration.md.`,
				Args: cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					writeReference(cmd.OutOrStdout(), cmd.Root())
					return nil
				},
			})
		}
	}
}

// refCommands lists root's commands, depth first, in name order, without
// cobra's own (help, completion) and hidden ones.
func refCommands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	subs := append([]*cobra.Command(nil), c.Commands()...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	for _, s := range subs {
		if s.Hidden || s.Name() == "help" || s.Name() == "completion" {
			continue
		}
		out = append(out, s)
		out = append(out, refCommands(s)...)
	}
	return out
}

// ownFlags returns the flags c declares itself (not the root's global
// ones, not help), by name.
func ownFlags(c, root *cobra.Command) []*pflag.Flag {
	var out []*pflag.Flag
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || (c != root && root.PersistentFlags().Lookup(f.Name) != nil) {
			return
		}
		out = append(out, f)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// flagDefault is the default as the command's help shows it: nothing
// for zero values (the help text says what they mean).
func flagDefault(f *pflag.Flag) string {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		if len(sv.GetSlice()) == 0 {
			return ""
		}
		return "`" + strings.Join(sv.GetSlice(), ",") + "`"
	}
	switch f.DefValue {
	case "", "0", "0s", "false", "[]":
		return ""
	}
	return "`" + f.DefValue + "`"
}

// writeFlagTable writes one table row per flag: the flag, its environment
// variable, its config file key, default and help.
func writeFlagTable(w io.Writer, flags []*pflag.Flag) {
	fmt.Fprintln(w, "| flag | environment | config key | default | description |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, f := range flags {
		name, usage := pflag.UnquoteUsage(f)
		flag := "`--" + f.Name
		if name != "" {
			flag += " " + name
		}
		flag += "`"
		if f.Shorthand != "" {
			flag = "`-" + f.Shorthand + "`, " + flag
		}
		env, key := "`"+envName(f.Name)+"`", "`"+f.Name+"`"
		if f.Name == "config" { // applyConfig reads neither for --config itself
			env, key = "—", "—"
		}
		if _, ok := f.Value.(pflag.SliceValue); ok {
			usage += " (environment: comma-separated; config file: a YAML list)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", flag, env, key, flagDefault(f), mdCell(usage))
	}
}

// commandsWith names the commands that have flag name.
func commandsWith(cmds []*cobra.Command, name string) string {
	var out []string
	for _, c := range cmds {
		if c.Flags().Lookup(name) != nil {
			out = append(out, "`"+c.Name()+"`")
		}
	}
	return strings.Join(out, ", ")
}

func writeReference(w io.Writer, root *cobra.Command) {
	cmds := refCommands(root)
	fmt.Fprintf(w, `# Configuration reference

Every flag, environment variable and config file key of every %[1]sapiwatch%[1]s
command. Generated from the code by %[1]sapiwatch config reference%[1]s (%[1]smake
docs%[1]s); do not edit: %[1]sTestConfigurationReference%[1]s fails when this
file and the code differ.

## How settings are read

Every flag is a setting, and every setting is a flag. A flag left off the
command line is taken from the environment variable %[1]sAPIWATCH_%[1]s + the
flag's name in capitals with %[1]s-%[1]s as %[1]s_%[1]s (%[1]s--spool-dir%[1]s →
%[1]sAPIWATCH_SPOOL_DIR%[1]s), else from the YAML file given with %[1]s--config%[1]s
(keys are the flag names: %[1]sspool-dir: /var/lib/apiwatch/spool%[1]s; lists as
YAML lists), else its default. A key of the file that is not a setting of
the command stops it. %[1]sapiwatch config example sensor%[1]s (or %[1]sdetect%[1]s)
prints a complete commented file.

Passwords are never flags nor config keys (a command line shows in %[1]sps%[1]s):
they come from a file named by a %[1]s*-password-file%[1]s flag or from an
environment variable below.

`, "`")

	fmt.Fprintln(w, "## Environment variables that are not flags")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| variable | read by | meaning |")
	fmt.Fprintln(w, "|---|---|---|")
	fmt.Fprintf(w, "| `%s` | %s | the deployment secret keying every identity hash, when `--secret-file` is not given; without either, hashes are keyed randomly at each start |\n",
		envSecret, commandsWith(cmds, "secret-file"))
	fmt.Fprintf(w, "| `%s` | %s | the Kafka SASL password, when `--kafka-password-file` is not given |\n",
		envKafkaPassword, commandsWith(cmds, "kafka-password-file"))
	fmt.Fprintf(w, "| `%s` | %s | the ClickHouse password, when `--clickhouse-password-file` is not given; it replaces the DSN's |\n",
		envClickhousePassword, commandsWith(cmds, "clickhouse-password-file"))
	fmt.Fprintln(w, "| any, named in the `--alerts` file | `detect` | a sink's secret, from its `*_env` key (below) |")
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## Global flags")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command takes these.")
	fmt.Fprintln(w)
	var global []*pflag.Flag
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { global = append(global, f) })
	sort.Slice(global, func(i, j int) bool { return global[i].Name < global[j].Name })
	writeFlagTable(w, global)

	for _, c := range cmds {
		fmt.Fprintf(w, "\n## %s\n\n%s.\n\n```\n%s\n```\n\n", c.CommandPath(), strings.TrimSuffix(c.Short, "."), c.UseLine())
		flags := ownFlags(c, root)
		if len(flags) == 0 {
			fmt.Fprintln(w, "No flags of its own.")
			continue
		}
		writeFlagTable(w, flags)
	}

	fmt.Fprintf(w, "\n## Files named by flags\n\n")
	fmt.Fprintf(w, "### `--detect-config` (%s)\n\n", commandsWith(cmds, "detect-config"))
	fmt.Fprintln(w, "Detector thresholds, YAML; what each one means is in [detect/README.md](../detect/README.md). Unknown keys are refused.")
	fmt.Fprintln(w)
	writeYAMLKeys(w, reflect.ValueOf(detect.DefaultConfig()))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`endpoints.<endpoint>.…` override the global values for one endpoint, named as in the findings (`GET api.example.com /v1/users/{id}`); what they leave out keeps the global value.")
	fmt.Fprintf(w, "\n### `--alerts` (%s)\n\n", commandsWith(cmds, "alerts"))
	fmt.Fprintln(w, "Where findings are sent, YAML; what each key means, and its default, is in [alert/README.md](../alert/README.md). Each secret is given by exactly one of the key, `KEY_file` (a file holding it) or `KEY_env` (an environment variable holding it).")
	fmt.Fprintln(w)
	writeYAMLKeys(w, reflect.ValueOf(alert.Config{}))
	fmt.Fprintf(w, "\n### Other files\n\n")
	fmt.Fprintln(w, "* `--openapi`: OpenAPI 3 specs, YAML or JSON.")
	fmt.Fprintln(w, "* `--bpf`: a classic BPF program as `tcpdump -ddd 'EXPRESSION'` prints it.")
	fmt.Fprintln(w, "* `--secret-file`, `--*-password-file`: the secret alone (a trailing newline is not part of it).")
	fmt.Fprintln(w, "* `--baseline-in`: a file written by `--baseline-out`.")
	fmt.Fprintln(w, "* `--truth`: a capture's ground truth, as `bench/gencap` writes it.")
}

// keyRow is one key of a YAML file.
type keyRow struct{ key, typ, def string }

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[secret.String]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// yamlType names t for people.
func yamlType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration (`90s`, `10m`)"
	case t == secretType:
		return "string (secret)"
	case reflect.PointerTo(t).Implements(textType):
		return "string"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list of " + yamlType(t.Elem())
	}
	return t.Kind().String()
}

// collectYAMLKeys walks v's fields by their yaml tags: nested structs as
// dotted keys, maps of structs as key.<name>.…, lists of structs as
// key[].…; scalars with their non-zero value as the default.
func collectYAMLKeys(v reflect.Value, prefix string, out *[]keyRow) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		key, fv, ft := prefix+name, v.Field(i), sf.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType && !reflect.PointerTo(ft).Implements(textType):
			collectYAMLKeys(fv, key+".", out)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			collectYAMLKeys(reflect.New(ft.Elem()).Elem(), key+".<"+strings.TrimSuffix(name, "s")+">.", out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			collectYAMLKeys(reflect.New(ft.Elem()).Elem(), key+"[].", out)
		default:
			def := ""
			if !fv.IsZero() {
				def = fmt.Sprint(fv.Interface())
				if ft.Kind() == reflect.Float64 {
					def = strconv.FormatFloat(fv.Float(), 'f', -1, 64)
				}
				def = "`" + def + "`"
			}
			*out = append(*out, keyRow{key, yamlType(ft), def})
		}
	}
}

func writeYAMLKeys(w io.Writer, v reflect.Value) {
	var rows []keyRow
	collectYAMLKeys(v, "", &rows)
	fmt.Fprintln(w, "| key | type | default |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", r.key, r.typ, r.def)
	}
}
