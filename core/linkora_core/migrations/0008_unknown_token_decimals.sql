-- A token whose decimals() gives no usable answer (no code, a revert, more than 77) is indexed
-- with NULL decimals: the amounts of its orders and events are stored in raw units.
ALTER TABLE token_decimals ALTER COLUMN decimals DROP NOT NULL;
