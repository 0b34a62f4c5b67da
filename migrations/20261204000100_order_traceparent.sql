-- The order's trace context (W3C `traceparent`): set at intake from the request that created
-- the order, replaced by the final transition with the span that completed it. The notifier's
-- callbacks and agiso-sync's deliveries, driven by the order's schedule rather than by a
-- message, continue the order's trace from it.
ALTER TABLE orders ADD COLUMN traceparent VARCHAR(55) NULL;
