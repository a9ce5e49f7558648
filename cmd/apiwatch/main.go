// Command apiwatch is the one binary of apiwatch: a passive API security
// monitor. Subcommands run it as a one-shot analysis of captures or
// interfaces (analyze), and later as sensor and detector daemons.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Set by the linker: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "apiwatch:", err)
		os.Exit(1)
	}
}

type logOptions struct {
	level  string
	format string
}

func newRootCmd() *cobra.Command {
	var lo logOptions
	var configFile string
	root := &cobra.Command{
		Use:   "apiwatch",
		Short: "Passive API security monitor: HTTP from mirrored packets, abuse findings",
		Long: `apiwatch reassembles HTTP/1.x from mirrored packets (capture files or a SPAN /
mirror port) and reports API transactions and abuse findings.

Start with:  apiwatch analyze testdata/demo.pcap.gz`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd, configFile); err != nil {
				return err
			}
			return setupLogging(lo)
		},
	}
	root.PersistentFlags().StringVar(&configFile, "config", "", "read settings from this YAML `FILE` (keys are flag names; print one with: apiwatch config example)")
	root.PersistentFlags().StringVar(&lo.level, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&lo.format, "log-format", "auto", "log format: console, json, or auto (console on a terminal, json otherwise)")
	root.AddCommand(newAnalyzeCmd(), newEndpointsCmd(), newEvaluateCmd(), newMigrateCmd(), newRetentionCmd(), newDevbrokerCmd(), newSensorCmd(), newDetectCmd(), newConfigCmd(), newVersionCmd())
	addReferenceCmd(root) // apiwatch config reference
	return root
}

func setupLogging(lo logOptions) error {
	level, err := zerolog.ParseLevel(lo.level)
	if err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", lo.level)
	}
	zerolog.SetGlobalLevel(level)
	zerolog.TimeFieldFormat = time.RFC3339Nano
	var w = zerolog.New(os.Stderr)
	switch lo.format {
	case "json":
	case "console":
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	case "auto":
		if term.IsTerminal(int(os.Stderr.Fd())) {
			w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
		}
	default:
		return fmt.Errorf("--log-format %q: want console, json or auto", lo.format)
	}
	logger = w.With().Timestamp().Logger()
	return nil
}

// logger is the process logger, configured by the root command's flags
// before any subcommand runs.
var logger = zerolog.New(os.Stderr).With().Timestamp().Logger()

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit apiwatch was built from",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "apiwatch %s (commit %s)\n", version, commit)
		},
	}
}
