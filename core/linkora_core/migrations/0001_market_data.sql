-- Market data written by the collector and read by the API servers.
-- Prices and volumes are numeric (exact); times are timestamptz (UTC instants).

CREATE TABLE IF NOT EXISTS candles (
    symbol                 text        NOT NULL CHECK (symbol ~ '^[A-Z0-9]{2,20}$'),
    open_time              timestamptz NOT NULL,
    open_price             numeric     NOT NULL CHECK (open_price >= 0),
    high_price             numeric     NOT NULL CHECK (high_price >= 0),
    low_price              numeric     NOT NULL CHECK (low_price >= 0),
    close_price            numeric     NOT NULL CHECK (close_price >= 0),
    volume                 numeric     NOT NULL CHECK (volume >= 0),
    quote_volume           numeric     NOT NULL CHECK (quote_volume >= 0),
    trades                 bigint      NOT NULL CHECK (trades >= 0),
    taker_buy_volume       numeric     NOT NULL CHECK (taker_buy_volume >= 0),
    taker_buy_quote_volume numeric     NOT NULL CHECK (taker_buy_quote_volume >= 0),
    is_closed              boolean     NOT NULL DEFAULT false,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, open_time),
    CHECK (high_price >= low_price),
    CHECK (date_trunc('minute', open_time) = open_time)
);
COMMENT ON TABLE candles IS 'Binance 1m klines; the open minute is updated until it closes';

-- Closed buckets of every larger timeframe, maintained as minutes close (plain PostgreSQL);
-- the API combines them with the still-open bucket computed from candles.
CREATE TABLE IF NOT EXISTS candle_rollups (
    symbol                 text        NOT NULL,
    timeframe              text        NOT NULL
        CHECK (timeframe IN ('3','5','15','30','45','1H','2H','3H','4H','1D','1W','1M')),
    open_time              timestamptz NOT NULL,
    open_price             numeric     NOT NULL CHECK (open_price >= 0),
    high_price             numeric     NOT NULL CHECK (high_price >= 0),
    low_price              numeric     NOT NULL CHECK (low_price >= 0),
    close_price            numeric     NOT NULL CHECK (close_price >= 0),
    volume                 numeric     NOT NULL CHECK (volume >= 0),
    quote_volume           numeric     NOT NULL CHECK (quote_volume >= 0),
    trades                 bigint      NOT NULL CHECK (trades >= 0),
    taker_buy_volume       numeric     NOT NULL CHECK (taker_buy_volume >= 0),
    taker_buy_quote_volume numeric     NOT NULL CHECK (taker_buy_quote_volume >= 0),
    PRIMARY KEY (symbol, timeframe, open_time),
    CHECK (high_price >= low_price)
);

-- Top-of-book snapshots, stored at a configurable rate; old rows removed by retention.
CREATE TABLE IF NOT EXISTS orderbook_data (
    symbol         text        NOT NULL CHECK (symbol ~ '^[A-Z0-9]{2,20}$'),
    captured_at    timestamptz NOT NULL,
    last_update_id bigint      NOT NULL CHECK (last_update_id >= 0),
    bid_prices     numeric[]   NOT NULL,
    bid_quantities numeric[]   NOT NULL,
    ask_prices     numeric[]   NOT NULL,
    ask_quantities numeric[]   NOT NULL,
    PRIMARY KEY (symbol, captured_at),
    CHECK (cardinality(bid_prices) = cardinality(bid_quantities)),
    CHECK (cardinality(ask_prices) = cardinality(ask_quantities))
);

-- One row per collected symbol: ingestion progress, read by /health, /symbols and monitoring.
CREATE TABLE IF NOT EXISTS collector_state (
    symbol              text        PRIMARY KEY CHECK (symbol ~ '^[A-Z0-9]{2,20}$'),
    phase               text        NOT NULL DEFAULT 'starting'
        CHECK (phase IN ('starting', 'backfill', 'realtime', 'error')),
    last_closed_minute  timestamptz,
    listed_at           timestamptz,
    backfill_done       bigint      NOT NULL DEFAULT 0 CHECK (backfill_done >= 0),
    backfill_total      bigint      NOT NULL DEFAULT 0 CHECK (backfill_total >= 0),
    backfill_rate       numeric     NOT NULL DEFAULT 0 CHECK (backfill_rate >= 0),
    backfill_eta        interval,
    last_error          text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Minutes the exchange itself does not have (outages): recorded once, never refetched.
CREATE TABLE IF NOT EXISTS candle_gaps (
    symbol      text        NOT NULL,
    gap_start   timestamptz NOT NULL,
    gap_end     timestamptz NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, gap_start),
    CHECK (gap_end > gap_start)
);
