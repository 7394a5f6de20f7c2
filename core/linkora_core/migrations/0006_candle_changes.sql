-- The change log of `candles`: every write of minutes records, in the transaction that writes
-- them, the range of minutes it touched (one row per symbol per write batch, not per minute).
-- The api-server's rollup maintainer takes rows, re-aggregates the buckets of every timeframe
-- holding those minutes and deletes the rows it took in the same transaction: no late or
-- corrected minute is ever left out of `candle_rollups`, whatever runs when.
-- A plain table with or without TimescaleDB (rows live seconds while an api-server runs).
CREATE TABLE IF NOT EXISTS candle_changes (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol          text        NOT NULL,
    first_open_time timestamptz NOT NULL,
    last_open_time  timestamptz NOT NULL,
    logged_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (last_open_time >= first_open_time)
);
COMMENT ON TABLE candle_changes IS
    'Minutes written since the rollup maintainer last looked: [first, last] open times per write';

-- Rollups stored before this log existed may miss minutes written late while no api-server
-- ran: have the maintainer check the whole history once of every symbol that has rollups
-- (symbols and per-symbol min/max by the primary keys: no table scan).
INSERT INTO candle_changes (symbol, first_open_time, last_open_time)
SELECT s.symbol,
       (SELECT c.open_time FROM candles c WHERE c.symbol = s.symbol ORDER BY c.open_time LIMIT 1),
       (SELECT c.open_time FROM candles c WHERE c.symbol = s.symbol
        ORDER BY c.open_time DESC LIMIT 1)
FROM (
    WITH RECURSIVE r(symbol) AS (
        (SELECT symbol FROM candle_rollups ORDER BY symbol LIMIT 1)
        UNION ALL
        SELECT (SELECT n.symbol FROM candle_rollups n WHERE n.symbol > r.symbol
                ORDER BY n.symbol LIMIT 1)
        FROM r WHERE r.symbol IS NOT NULL
    )
    SELECT symbol FROM r WHERE symbol IS NOT NULL
) AS s
WHERE EXISTS (SELECT 1 FROM candles c WHERE c.symbol = s.symbol);
