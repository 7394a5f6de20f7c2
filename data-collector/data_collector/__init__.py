"""Binance market data collector: `python -m data_collector`.

Pure logic (no I/O): `weights` (request-weight budget), `paging` (request windows, holes),
`streams` (combined-stream parsing), `messages` (Redis JSON shapes), `progress`, `status`.
Exchange I/O: `rest` (paced REST client), `ws_stream` (combined WebSocket), `poller`
(REST polling fallback), `catch_up` (REST gap fill), `backfill` (parallel history),
`audit` (periodic gap audit). Sinks: `candle_writes`, `book_store`, `state_store`
(PostgreSQL repositories taking a pool or a connection), `live_store` (buffered live
writes), `publisher` (Redis behind a queue). `collector` runs the phases; `health` serves
`GET /health` on METRICS_PORT.
"""
