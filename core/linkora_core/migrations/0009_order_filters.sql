-- Indexes behind the order API's filters (token pair, created/executed time range, transaction
-- hash, executor) and sorts, each ending in id so that a page after a keyset cursor is one
-- index range. The execution-side indexes are partial: a pending order adds no entry to them,
-- so a new order costs four more index entries (pair twice, created time, transaction hash).
CREATE INDEX IF NOT EXISTS orders_pair_id ON orders (token_in, token_out, id);
CREATE INDEX IF NOT EXISTS orders_pair_status_id ON orders (token_in, token_out, status, id);
CREATE INDEX IF NOT EXISTS orders_created_id ON orders (created_at, id);
CREATE INDEX IF NOT EXISTS orders_tx_hash ON orders (tx_hash);
CREATE INDEX IF NOT EXISTS orders_executed_id ON orders (executed_at, id)
    WHERE executed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_executor_id ON orders (executor_address, id)
    WHERE executor_address IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_executor_executed_id ON orders (executor_address, executed_at, id)
    WHERE executor_address IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_execution_tx_hash ON orders (execution_tx_hash)
    WHERE execution_tx_hash IS NOT NULL;
