-- Markets shared between collector instances (issue 19): each instance upserts its row every
-- LEASE_SECONDS/3 and holds the markets it collects through lease rows it renews as often. A
-- lease whose expires_at has passed (its holder killed) may be claimed by any other instance;
-- a holder stopping deletes its rows, so its markets are taken over at once.
-- Plain tables, also with TimescaleDB (one row per instance and per collected market).
CREATE TABLE IF NOT EXISTS collector_instances (
    instance    text        PRIMARY KEY,
    egress      text        NOT NULL,  -- the outgoing address group sharing per-IP limits
    seen_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS market_leases (
    venue       text        NOT NULL CHECK (venue ~ '^[a-z]+-[a-z]+$'),
    symbol      text        NOT NULL,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (venue, symbol)
);
CREATE INDEX IF NOT EXISTS market_leases_holder ON market_leases (holder);
COMMENT ON TABLE market_leases IS
    'Which collector instance collects a market, until expires_at unless renewed';
