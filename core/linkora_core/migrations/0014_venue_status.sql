-- What the collector knows live about each venue it collects (issue 16), written every few
-- seconds so the api-server can show it (`/exchanges`, `/exchanges/status`): whether its
-- stream is connected, its REST requests and rate budget, the rejections it waited out, book
-- resyncs, malformed answers and frames, and the last error. One row per venue, upserted;
-- `updated_at` ages a row whose collector has stopped writing. A plain table, also with
-- TimescaleDB (a handful of rows).

CREATE TABLE IF NOT EXISTS venue_status (
    venue          text        PRIMARY KEY CHECK (venue ~ '^[a-z]+-[a-z]+$'),
    connected      boolean     NOT NULL,
    rest_requests  bigint      NOT NULL CHECK (rest_requests >= 0),
    budget_used    int         NOT NULL CHECK (budget_used >= 0),
    budget_limit   int         NOT NULL CHECK (budget_limit >= 0),
    rejections     bigint      NOT NULL CHECK (rejections >= 0),
    book_resyncs   bigint      NOT NULL CHECK (book_resyncs >= 0),
    malformed      bigint      NOT NULL CHECK (malformed >= 0),
    last_error     text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE venue_status IS
    'Live figures of each collected venue, upserted by the data-collector every few seconds';
