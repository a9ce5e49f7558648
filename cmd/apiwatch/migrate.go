package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/storage"
)

func newMigrateCmd() *cobra.Command {
	var ch clickhouseFlags
	cmd := &cobra.Command{
		Use:   "migrate --clickhouse DSN",
		Short: "Create or update apiwatch's ClickHouse schema",
		Long: `Creates the database when missing and applies the schema migrations the
server has not recorded (table schema_migrations). Safe to run again, and
from several processes at once. Writers (analyze --clickhouse, the detector)
run the same migrations at start-up; this command does it ahead of them.

  apiwatch migrate --clickhouse clickhouse://127.0.0.1:9000/apiwatch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, &ch, func(s *storage.Store) error {
				v, err := s.Version(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "clickhouse database %s: schema version %d\n", s.Database(), v)
				return nil
			})
		},
	}
	addDSNFlag(cmd, &ch)
	return cmd
}

// addDSNFlag adds the required --clickhouse flag of the storage commands
// and the security flags that go with it.
func addDSNFlag(cmd *cobra.Command, ch *clickhouseFlags) {
	ch.addFlags(cmd.Flags(), "ClickHouse `DSN`: clickhouse://[user[:password]@]host:9000/database")
	_ = cmd.MarkFlagRequired("clickhouse")
}

// withStore runs fn on the store (migrated), then closes it.
func withStore(cmd *cobra.Command, ch *clickhouseFlags, fn func(*storage.Store) error) error {
	s, err := ch.open(cmd.Context())
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}
