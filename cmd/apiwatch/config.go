package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Settings come from, in order of precedence: the command line, the
// environment (APIWATCH_ and the flag name in capitals, '-' as '_':
// APIWATCH_SPOOL_DIR), the --config file (YAML, keys are flag names:
// "spool-dir: /var/lib/apiwatch/spool", lists as YAML lists), then the
// defaults. Every flag is a setting; there is no other configuration.
const envPrefix = "APIWATCH_"

// envName is the variable that sets flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// applyConfig fills the flags of cmd that the command line left unset,
// from the environment and then from the config file.
func applyConfig(cmd *cobra.Command, file string) error {
	values := map[string]any{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if err := yaml.Unmarshal(b, &values); err != nil {
			return fmt.Errorf("--config %s: %w", file, err)
		}
	}
	flags := cmd.Flags()
	for key := range values {
		if flags.Lookup(key) == nil {
			return fmt.Errorf("--config %s: %q is not a setting of %q (run: apiwatch config example)", file, key, cmd.Name())
		}
	}
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "config" {
			return
		}
		// A flag set here counts as given: required flags may come from
		// the environment or the file too.
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
			f.Changed = true
			return
		}
		v, ok := values[f.Name]
		if !ok {
			return
		}
		f.Changed = true
		list, isList := v.([]any)
		if !isList {
			list = []any{v}
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			strs := make([]string, len(list))
			for i, x := range list {
				strs[i] = fmt.Sprint(x)
			}
			if e := sv.Replace(strs); e != nil {
				err = fmt.Errorf("--config %s: %s: %w", file, f.Name, e)
			}
			return
		}
		for _, x := range list { // repeatable flags take each element
			if e := f.Value.Set(fmt.Sprint(x)); e != nil {
				err = fmt.Errorf("--config %s: %s: %w", file, f.Name, e)
				return
			}
		}
	})
	return err
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Configuration files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "example [COMMAND]",
		Short: "Print a fully commented example config file for the daemons (sensor, detect)",
		Long: `Prints every setting of 'apiwatch sensor' and 'apiwatch detect' (or of the
one COMMAND given) as a commented YAML file with the defaults. Settings come
from the command line, then the environment (APIWATCH_ and the flag name in
capitals: APIWATCH_SPOOL_DIR), then --config FILE, then the defaults.

  apiwatch config example sensor > /etc/apiwatch/sensor.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			names := []string{"sensor", "detect"}
			if len(args) == 1 {
				names = args
			}
			for _, n := range names {
				c, _, err := root.Find([]string{n})
				if err != nil || c == root {
					return fmt.Errorf("no command %q", n)
				}
				writeExample(cmd.OutOrStdout(), c)
			}
			return nil
		},
	})
	return cmd
}

// writeExample writes cmd's settings as commented YAML.
func writeExample(w io.Writer, cmd *cobra.Command) {
	fmt.Fprintf(w, "# apiwatch %s --config FILE\n# %s\n#\n# Precedence: command line, then environment (%s<NAME>), then this file, then defaults.\n\n",
		cmd.Name(), cmd.Short, envPrefix)
	var flags []*pflag.Flag
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && f.Name != "config" {
			flags = append(flags, f)
		}
	})
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	for _, f := range flags {
		_, usage := pflag.UnquoteUsage(f)
		fmt.Fprintf(w, "# %s (env %s)\n", usage, envName(f.Name))
		fmt.Fprintf(w, "# %s: %s\n\n", f.Name, yamlValue(f))
	}
}

func yamlValue(f *pflag.Flag) string {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return "[" + strings.Join(sv.GetSlice(), ", ") + "]"
	}
	if f.DefValue == "" {
		return `""`
	}
	return f.DefValue
}
