-- The back office: dead letters kept for operators, card import batches, and the indexes its
-- list pages need to answer in milliseconds over millions of rows (every list is ordered by
-- created_at DESC, id DESC, so each filter column leads an index followed by created_at).

-- Messages the broker dead-lettered, collected from the dead-letter queue by the admin service.
CREATE TABLE dead_letters (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    message_id    VARCHAR(64)     NULL,
    routing_key   VARCHAR(128)    NOT NULL,
    source_queue  VARCHAR(128)    NULL,                     -- from x-death
    reason        VARCHAR(64)     NULL,                     -- rejected | delivery_limit | expired
    death_count   INT             NOT NULL DEFAULT 1,
    payload       MEDIUMBLOB      NOT NULL,
    status        VARCHAR(12)     NOT NULL DEFAULT 'pending', -- pending | replayed | discarded
    handled_by    VARCHAR(64)     NULL,
    handled_at    DATETIME(3)     NULL,
    created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_dead_letters_message (message_id),
    KEY ix_dead_letters_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per card import (admin page or CLI).
CREATE TABLE card_batches (
    id            VARCHAR(64)     NOT NULL,
    product_id    BIGINT UNSIGNED NOT NULL,
    source        VARCHAR(255)    NOT NULL,                 -- file name or 粘贴
    imported_by   VARCHAR(64)     NOT NULL,
    total_lines   INT             NOT NULL DEFAULT 0,
    inserted      INT             NOT NULL DEFAULT 0,
    duplicates    INT             NOT NULL DEFAULT 0,
    invalid       INT             NOT NULL DEFAULT 0,
    created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_card_batches_product (product_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The dashboard's day and week aggregates read only this index (covering); the order list keeps
-- ix_orders_created (created_at [, id]) for its newest-first order.
CREATE INDEX ix_orders_dashboard ON orders (created_at, status, platform, total_price_fen);
CREATE INDEX ix_orders_platform_created ON orders (platform, created_at);
CREATE INDEX ix_orders_notify_created ON orders (notify_status, created_at);
CREATE INDEX ix_orders_product_created ON orders (product_id, created_at);
CREATE INDEX ix_cards_product_list ON cards (product_id, status, id);
CREATE INDEX ix_cards_status_list ON cards (status, id);
CREATE INDEX ix_callback_attempts_order_target ON callback_attempts (target, outcome, id);
