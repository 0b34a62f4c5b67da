-- An enabled product must have a unit price above zero: the gateway checks every order's total
-- against it, and a missing (NULL) or zero price no longer means "any price" (the back office,
-- the CLI and common::db::products refuse to enable a product without one).
--
-- Decision for existing data: enabled products without a price above zero are DISABLED here
-- (not left enabled to refuse every order at the gateway). An admin sees them as 停用 in
-- 商品管理, sets the price and enables them again; each one gets an audit row saying why.
-- Orders already taken are not touched. Runs on MariaDB and MySQL 8.
INSERT INTO audit_log (username, action, target_type, target_id, detail)
SELECT 'migration', 'product.disable', 'product', CAST(id AS CHAR),
       CONCAT('停用商品「', name, '」：未设置单价（启用的商品必须设置大于 0 的单价），请设置单价后重新启用')
FROM products
WHERE enabled = 1 AND (price_fen IS NULL OR price_fen <= 0);

UPDATE products SET enabled = 0
WHERE enabled = 1 AND (price_fen IS NULL OR price_fen <= 0);
