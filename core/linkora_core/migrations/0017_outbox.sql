-- Events for other applications (issue 18): every message for the broker is written here in
-- the transaction of the data it announces; the outbox relay publishes it with publisher
-- confirms, then marks it published. message_id is deterministic (market, timeframe and open
-- time; chain id, block hash and log index), so a message written twice is stored once and a
-- consumer drops duplicates by id. Rows are published in id order (per routing key the order
-- the writers committed them); published rows are pruned after a retention window.
CREATE TABLE IF NOT EXISTS outbox (
    id           bigserial   PRIMARY KEY,
    message_id   text        NOT NULL UNIQUE,
    routing_key  text        NOT NULL,
    body         text        NOT NULL,           -- the message's JSON, as published
    -- held: written but not to be published yet (an order event awaiting its confirmation
    -- depth); block_number: the chain block an order event belongs to, else NULL.
    held         boolean     NOT NULL DEFAULT false,
    block_number bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX IF NOT EXISTS outbox_to_publish ON outbox (id)
    WHERE published_at IS NULL AND NOT held;
CREATE INDEX IF NOT EXISTS outbox_held ON outbox (block_number) WHERE held;
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at)
    WHERE published_at IS NOT NULL;

-- Wakes the relay once per transaction that added or released messages (a NOTIFY is sent at
-- commit, and repeated payloads of one transaction are folded into one).
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('linkora_outbox', '');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outbox_added ON outbox;
CREATE TRIGGER outbox_added AFTER INSERT OR UPDATE OF held ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
