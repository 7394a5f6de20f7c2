-- TimescaleDB where the extension is available; nothing at all on plain PostgreSQL.
-- Hypertables, compression (candles after 7 days, order books after 1 day) and retention of
-- order-book snapshots. Every call is if_not_exists, so re-running is harmless.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb not available: plain PostgreSQL tables';
        RETURN;
    END IF;
    CREATE EXTENSION IF NOT EXISTS timescaledb;

    PERFORM create_hypertable('candles', 'open_time', chunk_time_interval => INTERVAL '7 days',
                              if_not_exists => TRUE, migrate_data => TRUE);
    PERFORM create_hypertable('orderbook_data', 'captured_at',
                              chunk_time_interval => INTERVAL '1 day',
                              if_not_exists => TRUE, migrate_data => TRUE);

    EXECUTE 'ALTER TABLE candles SET (timescaledb.compress, '
            'timescaledb.compress_segmentby = ''symbol'', '
            'timescaledb.compress_orderby = ''open_time'')';
    PERFORM add_compression_policy('candles', INTERVAL '7 days', if_not_exists => TRUE);

    EXECUTE 'ALTER TABLE orderbook_data SET (timescaledb.compress, '
            'timescaledb.compress_segmentby = ''symbol'', '
            'timescaledb.compress_orderby = ''captured_at'')';
    PERFORM add_compression_policy('orderbook_data', INTERVAL '1 day', if_not_exists => TRUE);
    PERFORM add_retention_policy('orderbook_data', INTERVAL '30 days', if_not_exists => TRUE);
EXCEPTION
    -- The package is installed but not preloaded (shared_preload_libraries): run as plain tables.
    WHEN feature_not_supported OR object_not_in_prerequisite_state OR undefined_file THEN
        RAISE WARNING 'timescaledb present but unusable (%): plain PostgreSQL tables', SQLERRM;
END
$$;
