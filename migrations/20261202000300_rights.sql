-- 游戏点卡 gift-rights top-ups (directCharge type=1): the rights order id JD wants echoed in
-- directQuery and the direct-charge callback, and the received `rights` array (for operators).
-- NULL for every other order.
ALTER TABLE orders
    ADD COLUMN rights_id VARCHAR(64) NULL,
    ADD COLUMN rights    TEXT        NULL;
