-- The api-server's UDF marks read a token pair's executed orders by execution time and its
-- cancelled orders by the time of the cancel (updated_at): one index range each.
CREATE INDEX IF NOT EXISTS orders_pair_executed
    ON orders (token_in, token_out, executed_at) WHERE status = 'EXECUTED';
CREATE INDEX IF NOT EXISTS orders_pair_cancelled
    ON orders (token_in, token_out, updated_at) WHERE status = 'CANCELLED';
