package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A migration is one schema step. Steps are only ever appended: a deployed
// server has applied some prefix of them, recorded in schema_migrations.
// Every statement is idempotent (IF NOT EXISTS), so a step interrupted
// half-way is simply applied again.
type migration struct {
	version    uint32
	name       string
	statements []string // {db} is replaced by the quoted database name
}

var migrations = []migration{
	{1, "events, findings, endpoints, rollups, baselines", []string{
		// Events: one row per API event. Partitioned by day (retention
		// drops partitions); sorted for per-endpoint scans.
		`CREATE TABLE IF NOT EXISTS {db}.events (
			date Date,
			time DateTime,
			time_ns UInt32,
			sensor_id String,
			kind Enum8('http' = 1, 'tls' = 2),
			latency_us UInt32,
			client_ip FixedString(16),
			src_ip FixedString(16),
			dst_ip FixedString(16),
			src_port UInt16,
			dst_port UInt16,
			method String,
			host String,
			endpoint String,
			template String,
			path String,
			shadow UInt8,
			status UInt16,
			request_bytes Int64,
			response_bytes Int64,
			records Int64,
			content_type String,
			field_paths Array(String),
			sensitive_classes Array(String),
			sensitive_counts Array(UInt32),
			actor_id String,
			actor_kind String,
			object_ids Array(String),
			login_user String,
			login_outcome String,
			quality Array(String),
			user_agent String,
			sni String,
			ja4 String
		) ENGINE = MergeTree PARTITION BY date ORDER BY (endpoint, time)`,
		// Findings: every version of a finding is inserted; the engine
		// keeps the highest version per id, so updates and re-deliveries
		// collapse (read with FINAL). first_seen never changes for an
		// incident, so all its versions share a partition.
		`CREATE TABLE IF NOT EXISTS {db}.findings (
			date Date,
			id String,
			version UInt64,
			detector String,
			kind String,
			severity Enum8('low' = 1, 'medium' = 2, 'high' = 3, 'critical' = 4),
			endpoint String,
			actor String,
			actor_kind String,
			subject String,
			client_ips Array(String),
			first_seen DateTime,
			first_seen_us UInt32,
			last_seen DateTime,
			last_seen_us UInt32,
			detected_at DateTime,
			detected_at_us UInt32,
			events UInt64,
			counts_keys Array(String),
			counts_values Array(Int64),
			evidence String,
			summary String,
			samples String
		) ENGINE = ReplacingMergeTree(version) PARTITION BY date ORDER BY id`,
		// The inventory, kept by a materialized view over events.
		`CREATE TABLE IF NOT EXISTS {db}.endpoints (
			endpoint String,
			first_seen AggregateFunction(min, DateTime),
			last_seen AggregateFunction(max, DateTime),
			calls AggregateFunction(count),
			methods AggregateFunction(groupUniqArray, String),
			statuses AggregateFunction(groupUniqArray, UInt16),
			auth_kinds AggregateFunction(groupUniqArray, String),
			sensitive AggregateFunction(groupUniqArrayArray, Array(String)),
			shadow AggregateFunction(max, UInt8)
		) ENGINE = AggregatingMergeTree ORDER BY endpoint`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.endpoints_mv TO {db}.endpoints AS
			SELECT endpoint, minState(time) AS first_seen, maxState(time) AS last_seen, countState() AS calls,
				groupUniqArrayState(method) AS methods, groupUniqArrayState(status) AS statuses,
				groupUniqArrayState(actor_kind) AS auth_kinds, groupUniqArrayArrayState(sensitive_classes) AS sensitive,
				maxState(shadow) AS shadow
			FROM {db}.events WHERE endpoint != '' GROUP BY endpoint`,
		// Per-minute rollups by endpoint and actor, for the rate panels.
		`CREATE TABLE IF NOT EXISTS {db}.rollup_minute (
			date Date,
			minute DateTime,
			endpoint String,
			actor_id String,
			requests UInt64,
			errors UInt64,
			bytes Int64,
			records Int64,
			login_failures UInt64
		) ENGINE = SummingMergeTree PARTITION BY date ORDER BY (endpoint, minute, actor_id)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_minute_mv TO {db}.rollup_minute AS
			SELECT date, toStartOfMinute(time) AS minute, endpoint, actor_id, count() AS requests,
				countIf(status >= 400) AS errors, sum(response_bytes) AS bytes, sum(greatest(records, 0)) AS records,
				countIf(login_outcome = 'failure') AS login_failures
			FROM {db}.events WHERE endpoint != '' GROUP BY date, minute, endpoint, actor_id`,
		// Baselines: the latest snapshot per endpoint.
		`CREATE TABLE IF NOT EXISTS {db}.baselines (
			endpoint String,
			updated_at DateTime,
			version UInt64,
			snapshot String
		) ENGINE = ReplacingMergeTree(version) ORDER BY endpoint`,
	}},
	{2, "triage", []string{
		// Triage: analysts' decisions about findings (triage.go). Every
		// change is a row; the highest version per finding wins (read
		// with FINAL). The finding's pattern is copied in, so false
		// positives stay readable as suppressions after the finding's
		// partition is dropped.
		`CREATE TABLE IF NOT EXISTS {db}.triage (
			finding_id String,
			version UInt64,
			status Enum8('open' = 1, 'acknowledged' = 2, 'false_positive' = 3),
			note String,
			user String,
			updated_at DateTime,
			updated_at_us UInt32,
			detector String,
			kind String,
			endpoint String,
			actor String,
			subject String
		) ENGINE = ReplacingMergeTree(version) ORDER BY finding_id`,
	}},
}

// SchemaVersion is the version the migrations lead to.
func SchemaVersion() uint32 { return migrations[len(migrations)-1].version }

// Migrate creates the database and applies the migrations the server has
// not recorded yet. Safe to run again, and from several processes (each
// statement is idempotent).
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.db+"`"); err != nil {
		return fmt.Errorf("clickhouse: create database %s: %w", s.db, err)
	}
	if err := s.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.t("schema_migrations")+` (
		version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("clickhouse: create schema_migrations: %w", err)
	}
	have, err := s.Version(ctx)
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		for _, st := range m.statements {
			if err := s.conn.Exec(ctx, strings.ReplaceAll(st, "{db}", "`"+s.db+"`")); err != nil {
				return fmt.Errorf("clickhouse: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if err := s.record(ctx, m); err != nil {
			return fmt.Errorf("clickhouse: record migration %d: %w", m.version, err)
		}
	}
	return nil
}

// record notes an applied migration. A batch, not INSERT … VALUES with
// parameters: over the native protocol 18.16 waits for data blocks after
// such a query.
func (s *Store) record(ctx context.Context, m migration) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.t("schema_migrations"))
	if err != nil {
		return err
	}
	if err := b.Append(m.version, m.name, time.Now().UTC().Truncate(time.Second)); err != nil {
		return errors.Join(err, b.Abort())
	}
	return b.Send()
}

// Version returns the highest migration the server recorded (0: none).
func (s *Store) Version(ctx context.Context) (uint32, error) {
	var v uint32
	if err := s.conn.QueryRow(ctx, "SELECT max(version) FROM "+s.t("schema_migrations")).Scan(&v); err != nil {
		return 0, fmt.Errorf("clickhouse: read schema version: %w", err)
	}
	return v, nil
}
