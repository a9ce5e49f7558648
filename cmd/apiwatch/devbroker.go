package main

import (
	"fmt"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog/log"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

func newDevbrokerCmd() *cobra.Command {
	var (
		port       int
		dataDir    string
		partitions int
		topics     []string
	)
	cmd := &cobra.Command{
		Use:   "devbroker",
		Short: "Run a single-node Kafka-protocol broker for local use (NOT for production)",
		Long: `Runs an in-process Kafka-protocol broker (franz-go's kfake) so that
'apiwatch sensor', 'apiwatch detect' and ClickHouse can run on one machine
with no Kafka install. It is a development tool: one node, no replication,
no security, no tuning. Production uses any Kafka-protocol cluster.

  apiwatch devbroker --data-dir /var/tmp/apiwatch-kafka`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation(),
				kfake.DefaultNumPartitions(partitions), kfake.SeedTopics(int32(partitions), topics...)}
			if dataDir != "" {
				opts = append(opts, kfake.DataDir(dataDir))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				return fmt.Errorf("devbroker: %w (is port %d free?)", err, port)
			}
			defer c.Close()
			log.Warn().Strs("listen", c.ListenAddrs()).Str("data_dir", dataDir).Strs("topics", topics).
				Msg("devbroker running: a development broker, not for production")
			fmt.Fprintf(cmd.OutOrStdout(), "devbroker: listening on %s (topics %s); Ctrl-C stops it\n",
				strings.Join(c.ListenAddrs(), ","), strings.Join(topics, ","))
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&port, "port", 9092, "TCP port to listen on (127.0.0.1)")
	f.StringVar(&dataDir, "data-dir", "", "keep topics and offsets in this `DIR` across restarts (empty: in memory)")
	f.IntVar(&partitions, "partitions", 8, "partitions of each topic")
	f.StringSliceVar(&topics, "topic", []string{"apiwatch.events", "apiwatch.findings"}, "topics to create at start")
	return cmd
}
