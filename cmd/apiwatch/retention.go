package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/storage"
)

func newRetentionCmd() *cobra.Command {
	var ch clickhouseFlags
	days := map[string]*int{"events": new(int), "findings": new(int), "rollup_minute": new(int)}
	cmd := &cobra.Command{
		Use:   "retention --clickhouse DSN [--events-days N] [--findings-days N] [--rollups-days N]",
		Short: "Drop the days of stored data older than the retention of each table",
		Long: `Drops whole daily partitions older than the given number of days (0 keeps
everything). Run it daily, for instance from cron or a Kubernetes CronJob;
partitions are dropped rather than expired by TTL, which ClickHouse 18.16
does not have.

  apiwatch retention --clickhouse clickhouse://127.0.0.1:9000/apiwatch --events-days 30 --findings-days 365`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, &ch, func(s *storage.Store) error {
				now := time.Now().UTC()
				for _, table := range []string{"events", "findings", "rollup_minute"} {
					d := *days[table]
					if d <= 0 {
						continue
					}
					n, err := s.DropPartitionsBefore(cmd.Context(), table, now.AddDate(0, 0, -d))
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: kept %d days, dropped %d\n", table, d, n)
				}
				return nil
			})
		},
	}
	addDSNFlag(cmd, &ch)
	f := cmd.Flags()
	f.IntVar(days["events"], "events-days", 30, "days of API events to keep (0: all)")
	f.IntVar(days["findings"], "findings-days", 365, "days of findings to keep (0: all)")
	f.IntVar(days["rollup_minute"], "rollups-days", 90, "days of per-minute rollups to keep (0: all)")
	return cmd
}
