-- processed_events repeated order_events' unique key (block_hash, log_index) row for row, in
-- the same transaction: every applied log cost two heap rows and five index entries for one
-- fact, about a tenth of the event processor's write time. order_events' own UNIQUE
-- (block_hash, log_index) is the dedupe key; processed_events stays readable as a view of it
-- (its processed_at column, never read, goes).
DO $$
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('processed_events')) = 'r' THEN
        DROP TABLE processed_events;
    END IF;
END
$$;
CREATE OR REPLACE VIEW processed_events AS
    SELECT block_hash, log_index, block_number, tx_hash FROM order_events;
