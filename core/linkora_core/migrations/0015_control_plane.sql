-- Runtime control (issue 17): the desired state an operator changes through the api-server's
-- /admin API, read by every collector at start and again on each NOTIFY `linkora_control`
-- (sent by the changing transaction), so a change needs no restart and survives one.
-- Plain tables, also with TimescaleDB (a few rows each, except the audit log and heartbeats,
-- which stay small: the audit log grows by one row per change, heartbeats one row per process).

-- The markets to collect. A row is never deleted when a market is removed: `removed_at` keeps
-- the environment's MARKETS, which seed this table at each collector start (insert if never
-- seen), from bringing back a market an operator removed.
CREATE TABLE IF NOT EXISTS control_markets (
    venue       text        NOT NULL CHECK (venue ~ '^[a-z]+-[a-z]+$'),
    symbol      text        NOT NULL CHECK (symbol ~ '^[A-Z0-9]([A-Z0-9_-]{0,30}[A-Z0-9])?$'),
    start_date  timestamptz,          -- NULL: the collector's START_DATE
    added_at    timestamptz NOT NULL DEFAULT now(),
    added_by    text        NOT NULL,
    removed_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol)
);
COMMENT ON TABLE control_markets IS
    'Markets the collectors collect (removed_at NULL); seeded from MARKETS, changed via /admin';

-- Exchanges switched off: none of their markets is collected while disabled.
CREATE TABLE IF NOT EXISTS control_exchanges (
    exchange    text        PRIMARY KEY CHECK (exchange ~ '^[a-z]+$'),
    enabled     boolean     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Settings changed at runtime; a name with no row keeps the value of the environment.
CREATE TABLE IF NOT EXISTS control_settings (
    name        text        PRIMARY KEY CHECK (name ~ '^[a-z_]+$'),
    value       text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change made through /admin: who (the token's name), when, what, from which address.
CREATE TABLE IF NOT EXISTS admin_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    address     text        NOT NULL,
    action      text        NOT NULL,
    target      text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS admin_audit_at ON admin_audit (at DESC);

-- One row per running service process, upserted every few seconds (`/system`): a row not
-- renewed for more than 10 s is a process shown as down.
CREATE TABLE IF NOT EXISTS service_heartbeats (
    service     text        NOT NULL,
    instance    text        NOT NULL,  -- host:pid
    pid         int         NOT NULL,
    started_at  timestamptz NOT NULL,
    beat_at     timestamptz NOT NULL DEFAULT now(),
    state       text        NOT NULL,
    cpu_percent numeric     NOT NULL CHECK (cpu_percent >= 0),
    rss_bytes   bigint      NOT NULL CHECK (rss_bytes >= 0),
    backlog     bigint      NOT NULL DEFAULT 0,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (service, instance)
);
