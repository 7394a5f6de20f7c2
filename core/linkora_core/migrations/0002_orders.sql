-- The order index written by the event processor and read by the order API.
-- Addresses and hashes are stored lowercase; the API checksums addresses on output.

CREATE TABLE IF NOT EXISTS orders (
    id                  bigint      PRIMARY KEY CHECK (id > 0),
    user_address        text        NOT NULL CHECK (user_address ~ '^0x[0-9a-f]{40}$'),
    token_in            text        NOT NULL CHECK (token_in ~ '^0x[0-9a-f]{40}$'),
    token_out           text        NOT NULL CHECK (token_out ~ '^0x[0-9a-f]{40}$'),
    amount_in           numeric     NOT NULL CHECK (amount_in >= 0),
    target_price        numeric     NOT NULL CHECK (target_price >= 0),
    min_amount_out      numeric     NOT NULL CHECK (min_amount_out >= 0),
    order_type          text        NOT NULL
        CHECK (order_type IN ('LIMIT', 'STOP', 'MARKET', 'CONDITIONAL')),
    is_long             boolean     NOT NULL,
    self_executable     boolean     NOT NULL,
    status              text        NOT NULL CHECK (status IN ('PENDING', 'EXECUTED', 'CANCELLED')),
    created_at          timestamptz NOT NULL,
    executed_at         timestamptz,
    updated_at          timestamptz NOT NULL,
    tx_hash             text        NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    block_number        bigint      NOT NULL CHECK (block_number >= 0),
    executor_address    text        CHECK (executor_address ~ '^0x[0-9a-f]{40}$'),
    amount_out          numeric     CHECK (amount_out >= 0),
    execution_tx_hash   text        CHECK (execution_tx_hash ~ '^0x[0-9a-f]{64}$'),
    CHECK (status <> 'EXECUTED' OR executed_at IS NOT NULL),
    CHECK (status <> 'PENDING' OR executed_at IS NULL)
);
-- Newest first is id order (ids grow with creation); these serve every list query by keyset.
CREATE INDEX IF NOT EXISTS orders_status_id ON orders (status, id DESC);
CREATE INDEX IF NOT EXISTS orders_user_id ON orders (user_address, id DESC);
CREATE INDEX IF NOT EXISTS orders_user_status_id ON orders (user_address, status, id DESC);
CREATE INDEX IF NOT EXISTS orders_status_created ON orders (status, created_at);

CREATE TABLE IF NOT EXISTS order_events (
    id           bigserial   PRIMARY KEY,
    order_id     bigint      NOT NULL CHECK (order_id > 0),
    event_type   text        NOT NULL CHECK (event_type IN ('CREATED', 'EXECUTED', 'CANCELLED', 'MODIFIED')),
    old_status   text        CHECK (old_status IN ('PENDING', 'EXECUTED', 'CANCELLED')),
    new_status   text        NOT NULL CHECK (new_status IN ('PENDING', 'EXECUTED', 'CANCELLED')),
    tx_hash      text        NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    block_number bigint      NOT NULL CHECK (block_number >= 0),
    block_hash   text        NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
    log_index    integer     NOT NULL CHECK (log_index >= 0),
    occurred_at  timestamptz NOT NULL,
    event_data   jsonb       NOT NULL CHECK (jsonb_typeof(event_data) = 'object'),
    UNIQUE (block_hash, log_index)
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (order_id, block_number, log_index);
CREATE INDEX IF NOT EXISTS order_events_block ON order_events (block_number);

-- Dedupe rows: one per applied log, keyed by block hash so a re-mined transaction is new.
CREATE TABLE IF NOT EXISTS processed_events (
    block_hash   text        NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
    log_index    integer     NOT NULL CHECK (log_index >= 0),
    block_number bigint      NOT NULL CHECK (block_number >= 0),
    tx_hash      text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (block_hash, log_index)
);
CREATE INDEX IF NOT EXISTS processed_events_block ON processed_events (block_number);

-- Recent canonical block hashes (the reorg window).
CREATE TABLE IF NOT EXISTS block_hashes (
    block_number bigint PRIMARY KEY CHECK (block_number >= 0),
    block_hash   text   NOT NULL UNIQUE CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
    parent_hash  text   NOT NULL CHECK (parent_hash ~ '^0x[0-9a-f]{64}$')
);

-- Token decimals read once per token (ETH is address zero with 18).
CREATE TABLE IF NOT EXISTS token_decimals (
    token_address text     PRIMARY KEY CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
    decimals      smallint NOT NULL CHECK (decimals BETWEEN 0 AND 77)
);

-- Small keyed state: the indexer checkpoint (committed with the data it covers) and the like.
CREATE TABLE IF NOT EXISTS system_state (
    key        text        PRIMARY KEY,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
