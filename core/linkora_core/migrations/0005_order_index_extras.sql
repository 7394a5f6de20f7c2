-- The order as `getOrder` returned it at the block of the event that started it (its CREATED
-- event, or the first event seen of an order created before indexing began). With the events'
-- own arguments this is enough to rebuild an order from its remaining events after a rollback.
ALTER TABLE order_events ADD COLUMN IF NOT EXISTS snapshot jsonb
    CHECK (snapshot IS NULL OR jsonb_typeof(snapshot) = 'object');

-- Order totals per status, overall (user_address '') and per user, kept by statement-level
-- triggers in the writer's transaction: the order API's `total` without counting rows.
CREATE TABLE IF NOT EXISTS order_counts (
    user_address text   NOT NULL,
    status       text   NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (user_address, status)
);

CREATE OR REPLACE FUNCTION order_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM order_counts;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO order_counts (user_address, status, n)
        SELECT who, o.status, -count(*)
        FROM old_rows o CROSS JOIN LATERAL (VALUES (o.user_address), ('')) AS w(who)
        GROUP BY who, o.status
        ON CONFLICT (user_address, status) DO UPDATE SET n = order_counts.n + EXCLUDED.n;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO order_counts (user_address, status, n)
        SELECT who, o.status, count(*)
        FROM new_rows o CROSS JOIN LATERAL (VALUES (o.user_address), ('')) AS w(who)
        GROUP BY who, o.status
        ON CONFLICT (user_address, status) DO UPDATE SET n = order_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS orders_counts_insert ON orders;
DROP TRIGGER IF EXISTS orders_counts_update ON orders;
DROP TRIGGER IF EXISTS orders_counts_delete ON orders;
DROP TRIGGER IF EXISTS orders_counts_truncate ON orders;
CREATE TRIGGER orders_counts_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply();
CREATE TRIGGER orders_counts_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply();
CREATE TRIGGER orders_counts_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply();
CREATE TRIGGER orders_counts_truncate AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply();

DELETE FROM order_counts;
INSERT INTO order_counts (user_address, status, n)
SELECT who, o.status, count(*)
FROM orders o CROSS JOIN LATERAL (VALUES (o.user_address), ('')) AS w(who)
GROUP BY who, o.status;
