"""Market data collector: `python -m data_collector`.

Pure logic (no I/O): `weights` (request-weight budget), `paging` (request windows, holes),
`*_payloads` (exchange frames and bodies), `book_sync` (order books under each exchange's
sequencing rule), `progress`, `status`. Exchange I/O: `adapters` (each venue's REST source
and streams), `rest` and `*_rest` (paced REST clients), `venue_stream` (one WebSocket under a
venue's `*_protocol`), `poller` (REST polling fallback), `catch_up` (REST gap fill),
`backfill` (parallel history), `audit` (periodic gap audit). Sinks: `candle_writes`,
`book_store`, `state_store` (PostgreSQL repositories taking a pool or a connection),
`live_store` (buffered live writes), `publisher` (Redis behind a queue). `collector` runs
the phases; `health` serves `GET /health` on METRICS_PORT.
"""
