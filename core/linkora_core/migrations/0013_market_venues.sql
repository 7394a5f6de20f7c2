-- The market dimension (issue 16): every market table gains `venue`, the exchange and market
-- kind a row belongs to (`binance-spot`, `bybit-linear`, ...; linkora_core/markets.py), first
-- in each primary key. Existing rows are Binance spot, all the platform collected before, and
-- that stays the column's default. Symbols may hold the `-` and `_` of other exchanges'
-- spelling (BTC-USDT-SWAP, BTC_USDT). Exchanges that publish no trade count or taker volumes
-- store NULL there, so those columns become nullable; Binance rows keep their numbers.
--
-- Adding a column with a constant default rewrites nothing; the new primary keys are built
-- once (a few seconds per million rows). With TimescaleDB, compressed chunks cannot take a new
-- primary key: they are decompressed first and compressed again later by the policy, segmented
-- by venue and symbol. That branch runs only where the extension is installed (not on the
-- development machine, which has none: it is written from TimescaleDB's documented API).

DO $$
DECLARE
    hypertable record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    FOR hypertable IN
        SELECT * FROM (VALUES ('candles', 'open_time'), ('orderbook_data', 'captured_at'))
            AS h(name, time_column)
        WHERE EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conname = h.name || '_pkey'
              AND pg_get_constraintdef(oid) = format('PRIMARY KEY (symbol, %s)', h.time_column)
        )
    LOOP
        PERFORM remove_compression_policy(hypertable.name::regclass, if_exists => TRUE);
        PERFORM decompress_chunk(chunk, TRUE) FROM show_chunks(hypertable.name::regclass) chunk;
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress = false)', hypertable.name);
    END LOOP;
END
$$;

ALTER TABLE candles ADD COLUMN IF NOT EXISTS venue text NOT NULL DEFAULT 'binance-spot'
    CHECK (venue ~ '^[a-z]+-[a-z]+$');
ALTER TABLE candle_rollups ADD COLUMN IF NOT EXISTS venue text NOT NULL DEFAULT 'binance-spot'
    CHECK (venue ~ '^[a-z]+-[a-z]+$');
ALTER TABLE orderbook_data ADD COLUMN IF NOT EXISTS venue text NOT NULL DEFAULT 'binance-spot'
    CHECK (venue ~ '^[a-z]+-[a-z]+$');
ALTER TABLE collector_state ADD COLUMN IF NOT EXISTS venue text NOT NULL DEFAULT 'binance-spot'
    CHECK (venue ~ '^[a-z]+-[a-z]+$');
ALTER TABLE candle_gaps ADD COLUMN IF NOT EXISTS venue text NOT NULL DEFAULT 'binance-spot'
    CHECK (venue ~ '^[a-z]+-[a-z]+$');
ALTER TABLE candle_changes ADD COLUMN IF NOT EXISTS venue text NOT NULL DEFAULT 'binance-spot'
    CHECK (venue ~ '^[a-z]+-[a-z]+$');

DO $$
DECLARE
    target record;
BEGIN
    FOR target IN
        SELECT * FROM (VALUES
            ('candles', 'venue, symbol, open_time'),
            ('candle_rollups', 'venue, symbol, timeframe, open_time'),
            ('orderbook_data', 'venue, symbol, captured_at'),
            ('collector_state', 'venue, symbol'),
            ('candle_gaps', 'venue, symbol, gap_start')
        ) AS k(tbl, columns)
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conname = k.tbl || '_pkey'
              AND pg_get_constraintdef(oid) = format('PRIMARY KEY (%s)', k.columns)
        )
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', target.tbl, target.tbl || '_pkey');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (%s)',
                       target.tbl, target.tbl || '_pkey', target.columns);
    END LOOP;

    FOR target IN
        SELECT * FROM (VALUES ('candles'), ('orderbook_data'), ('collector_state')) AS k(tbl)
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conname = k.tbl || '_symbol_check'
              AND pg_get_constraintdef(oid) LIKE '%[A-Z0-9_-]{0,30}%'
        )
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I',
                       target.tbl, target.tbl || '_symbol_check');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (symbol ~ %L)',
                       target.tbl, target.tbl || '_symbol_check',
                       '^[A-Z0-9][A-Z0-9_-]{0,30}[A-Z0-9]$');
    END LOOP;
END
$$;

ALTER TABLE candles
    ALTER COLUMN trades DROP NOT NULL,
    ALTER COLUMN taker_buy_volume DROP NOT NULL,
    ALTER COLUMN taker_buy_quote_volume DROP NOT NULL;
ALTER TABLE candle_rollups
    ALTER COLUMN trades DROP NOT NULL,
    ALTER COLUMN taker_buy_volume DROP NOT NULL,
    ALTER COLUMN taker_buy_quote_volume DROP NOT NULL;

COMMENT ON TABLE candles IS
    '1m candles of every market (venue, symbol); the open minute is updated until it closes';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    -- Compression still enabled means the first block found the keys already changed.
    IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
            WHERE hypertable_name = 'candles') THEN
        EXECUTE 'ALTER TABLE candles SET (timescaledb.compress, '
                'timescaledb.compress_segmentby = ''venue, symbol'', '
                'timescaledb.compress_orderby = ''open_time'')';
        PERFORM add_compression_policy('candles', INTERVAL '7 days', if_not_exists => TRUE);
    END IF;
    IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
            WHERE hypertable_name = 'orderbook_data') THEN
        EXECUTE 'ALTER TABLE orderbook_data SET (timescaledb.compress, '
                'timescaledb.compress_segmentby = ''venue, symbol'', '
                'timescaledb.compress_orderby = ''captured_at'')';
        PERFORM add_compression_policy('orderbook_data', INTERVAL '1 day', if_not_exists => TRUE);
    END IF;
END
$$;
