-- The order list and its CSV export read newest first, ORDER BY created_at DESC, id DESC, with
-- no filter or only a date range. ix_orders_created became the dashboard's covering index
-- (created_at, status, platform, total_price_fen), whose order is not (created_at, id): without
-- this index the unfiltered list sorts every order (about 1 s at 1,000,000 orders).
CREATE INDEX ix_orders_list ON orders (created_at, id);
