-- The whole schema of docs/ARCHITECTURE.md §4. InnoDB, utf8mb4; runs on MySQL 8 and MariaDB >= 10.6.
-- Unique keys enforce idempotency; indexes follow the queries of the services and the admin.

CREATE TABLE shops (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    platform            VARCHAR(16)     NOT NULL,            -- jd_general | jd_game | agiso
    name                VARCHAR(128)    NOT NULL,
    merchant_id         VARCHAR(64)     NOT NULL,            -- vendorId | customerId | Agiso AppId
    agiso_service       VARCHAR(32)     NOT NULL DEFAULT '', -- alds | aldsJd (agiso only)
    md5_key_enc         VARBINARY(512)  NULL,                -- jd_general MD5 key (AES-GCM, MASTER_KEY)
    aes_key_enc         VARBINARY(512)  NULL,                -- jd_general AES key
    private_key_enc     VARBINARY(512)  NULL,                -- jd_game private key
    app_secret_enc      VARBINARY(512)  NULL,                -- agiso AppSecret
    access_token_enc    VARBINARY(2048) NULL,                -- agiso AccessToken
    mode                VARCHAR(8)      NOT NULL DEFAULT 'prod', -- test | prod
    direct_callback_url VARCHAR(512)    NULL,                -- jd_game override of gameApi.action
    card_callback_url   VARCHAR(512)    NULL,                -- jd_game override of cardApi.action
    base_url            VARCHAR(512)    NULL,                -- agiso gateway override
    ip_allowlist        VARCHAR(2048)   NULL,                -- comma separated IPs / CIDRs; NULL = any
    enabled             TINYINT(1)      NOT NULL DEFAULT 1,
    created_at          DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at          DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_shops_name (name),
    UNIQUE KEY uq_shops_merchant (platform, merchant_id, agiso_service)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE products (
    id                    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name                  VARCHAR(128)    NOT NULL,
    mode                  VARCHAR(16)     NOT NULL,          -- card | direct_manual | direct_supplier
    face_value_fen        BIGINT          NULL,
    price_fen             BIGINT          NULL,              -- expected unit price; NULL = not checked
    low_stock_threshold   INT             NULL,
    low_stock_alerted     TINYINT(1)      NOT NULL DEFAULT 0, -- edge trigger of stock.low
    out_of_stock_policy   VARCHAR(8)      NOT NULL DEFAULT 'fail', -- fail | wait
    stock_wait_seconds    INT             NOT NULL DEFAULT 3600,
    enabled               TINYINT(1)      NOT NULL DEFAULT 1,
    created_at            DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at            DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_products_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Platform SKU / wareNo / outId -> product. Both JD's SKU id and the merchant code may map.
CREATE TABLE product_skus (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    product_id  BIGINT UNSIGNED NOT NULL,
    platform    VARCHAR(16)     NOT NULL,
    sku         VARCHAR(64)     NOT NULL,
    created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_product_skus (platform, sku),
    KEY ix_product_skus_product (product_id),
    CONSTRAINT fk_product_skus_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE cards (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    product_id     BIGINT UNSIGNED NOT NULL,
    batch_id       VARCHAR(64)     NOT NULL,
    card_no_enc    VARBINARY(1024) NOT NULL,               -- AES-256-GCM (MASTER_KEY), random nonce
    card_pass_enc  BLOB            NOT NULL,
    fingerprint    BINARY(32)      NOT NULL,               -- HMAC-SHA256 of number+password
    -- No expiry is stored as 9999-12-31 so that (expires_at, id) is one index order:
    -- earliest expiry first, then oldest import.
    expires_at     DATE            NOT NULL DEFAULT '9999-12-31',
    status         VARCHAR(12)     NOT NULL DEFAULT 'available', -- available | sold | void
    order_id       BIGINT UNSIGNED NULL,
    created_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    sold_at        DATETIME(3)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_cards_fingerprint (product_id, fingerprint),
    KEY ix_cards_pick (product_id, status, expires_at, id),
    KEY ix_cards_order (order_id),
    KEY ix_cards_batch (batch_id, status),
    CONSTRAINT fk_cards_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE orders (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_no           VARCHAR(32)     NOT NULL,            -- ours; agentOrderNo for JD
    platform           VARCHAR(16)     NOT NULL,
    shop_id            BIGINT UNSIGNED NOT NULL,
    platform_order_no  VARCHAR(64)     NOT NULL,            -- jdOrderNo | orderId | Tid
    order_kind         VARCHAR(8)      NOT NULL,            -- card | direct
    product_id         BIGINT UNSIGNED NULL,
    sku                VARCHAR(64)     NOT NULL,
    quantity           INT             NOT NULL,
    total_price_fen    BIGINT          NOT NULL,
    recharge_account   VARCHAR(128)    NULL,
    status             VARCHAR(20)     NOT NULL,
    failure_code       VARCHAR(16)     NULL,
    failure_reason     VARCHAR(255)    NULL,
    notify_status      VARCHAR(16)     NOT NULL DEFAULT 'pending',
    notify_url         VARCHAR(512)    NULL,                -- JD general notifyUrl as received
    notify_attempts    INT             NOT NULL DEFAULT 0,
    notify_next_at     DATETIME(3)     NULL,                -- durable callback retry schedule
    notify_reason      VARCHAR(255)    NULL,                -- why giving_up, for the operator
    stock_deadline_at  DATETIME(3)     NULL,                -- awaiting_stock gives up at
    raw_request        TEXT            NULL,                -- decoded request, secrets removed
    created_at         DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at         DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    completed_at       DATETIME(3)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_orders_order_no (order_no),
    UNIQUE KEY uq_orders_platform_no (platform, shop_id, platform_order_no),
    KEY ix_orders_platform_no (platform_order_no),
    KEY ix_orders_created (created_at),
    KEY ix_orders_status (status, created_at),
    KEY ix_orders_shop (shop_id, created_at),
    KEY ix_orders_product_status (product_id, status, id),
    KEY ix_orders_account (recharge_account),
    KEY ix_orders_notify (notify_status, notify_next_at),
    KEY ix_orders_stock_deadline (status, stock_deadline_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only timeline: one row per transition, written in the transaction of the change.
CREATE TABLE order_events (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id     BIGINT UNSIGNED NOT NULL,
    from_status  VARCHAR(20)     NULL,
    to_status    VARCHAR(20)     NOT NULL,
    actor        VARCHAR(64)     NOT NULL,                  -- gateway | fulfillment | operator:<name> ...
    note         VARCHAR(512)    NULL,
    created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_order_events_order (order_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Transactional outbox: committed with the state change, published by the relay, then deleted.
CREATE TABLE outbox (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    event_id      CHAR(36)        NOT NULL,                 -- AMQP message_id
    routing_key   VARCHAR(128)    NOT NULL,
    payload       TEXT            NOT NULL,
    traceparent   VARCHAR(128)    NULL,
    attempts      INT             NOT NULL DEFAULT 0,
    available_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    claim         CHAR(36)        NULL,                     -- the relay batch publishing it
    claimed_at    DATETIME(3)     NULL,                     -- its lease runs from here
    created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    -- Only the primary key: the relay reads in id order, and every secondary index would add
    -- lock traffic between the relay's deletes and concurrent inserts (event ids are UUIDv7,
    -- unique by construction).
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every outbound call to JD, Agiso or a supplier.
CREATE TABLE callback_attempts (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id         BIGINT UNSIGNED NULL,
    target           VARCHAR(16)     NOT NULL,              -- jd_general | jd_game | agiso | supplier
    attempt_no       INT             NOT NULL,
    url              VARCHAR(1024)   NOT NULL,
    request_body     TEXT            NULL,                  -- card data masked
    http_status      SMALLINT        NULL,
    response_body    TEXT            NULL,
    duration_ms      INT             NOT NULL DEFAULT 0,
    outcome          VARCHAR(16)     NOT NULL,              -- delivered | retry | giving_up | error
    error            VARCHAR(512)    NULL,
    next_attempt_at  DATETIME(3)     NULL,
    created_at       DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_callback_attempts_order (order_id, id),
    KEY ix_callback_attempts_created (created_at),
    KEY ix_callback_attempts_outcome (outcome, created_at),
    KEY ix_callback_attempts_target (target, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE suppliers (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name         VARCHAR(128)    NOT NULL,
    base_url     VARCHAR(512)    NOT NULL,
    merchant_id  VARCHAR(64)     NOT NULL,
    secret_enc   VARBINARY(512)  NOT NULL,
    timeout_ms   INT             NOT NULL DEFAULT 5000,
    enabled      TINYINT(1)      NOT NULL DEFAULT 1,
    created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_suppliers_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE product_suppliers (
    product_id    BIGINT UNSIGNED NOT NULL,
    supplier_id   BIGINT UNSIGNED NOT NULL,
    priority      INT             NOT NULL DEFAULT 100,     -- lower is tried first
    supplier_sku  VARCHAR(64)     NOT NULL,
    PRIMARY KEY (product_id, supplier_id),
    KEY ix_product_suppliers_priority (product_id, priority),
    CONSTRAINT fk_ps_product FOREIGN KEY (product_id) REFERENCES products (id),
    CONSTRAINT fk_ps_supplier FOREIGN KEY (supplier_id) REFERENCES suppliers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE supplier_orders (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id           BIGINT UNSIGNED NOT NULL,
    supplier_id        BIGINT UNSIGNED NOT NULL,
    supplier_order_no  VARCHAR(64)     NULL,
    status             VARCHAR(16)     NOT NULL,            -- submitted | succeeded | failed | unknown
    poll_count         INT             NOT NULL DEFAULT 0,
    next_poll_at       DATETIME(3)     NULL,
    deadline_at        DATETIME(3)     NULL,
    last_response      TEXT            NULL,
    created_at         DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at         DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_supplier_orders (order_id, supplier_id),
    KEY ix_supplier_orders_poll (status, next_poll_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE admin_users (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    username        VARCHAR(64)     NOT NULL,
    password_hash   VARCHAR(255)    NOT NULL,              -- argon2id PHC string
    role            VARCHAR(16)     NOT NULL,              -- admin | operator | viewer
    enabled         TINYINT(1)      NOT NULL DEFAULT 1,
    failed_logins   INT             NOT NULL DEFAULT 0,
    locked_until    DATETIME(3)     NULL,
    last_login_at   DATETIME(3)     NULL,
    created_at      DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_admin_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sessions (
    id            CHAR(64)        NOT NULL,                -- SHA-256 of the cookie token
    user_id       BIGINT UNSIGNED NOT NULL,
    csrf_token    CHAR(64)        NOT NULL,
    ip            VARCHAR(45)     NULL,
    user_agent    VARCHAR(255)    NULL,
    created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    last_seen_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    expires_at    DATETIME(3)     NOT NULL,
    PRIMARY KEY (id),
    KEY ix_sessions_user (user_id),
    KEY ix_sessions_expires (expires_at),
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES admin_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE audit_log (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id      BIGINT UNSIGNED NULL,
    username     VARCHAR(64)     NOT NULL,                 -- 'cli' for provisioning commands
    action       VARCHAR(64)     NOT NULL,
    target_type  VARCHAR(32)     NULL,
    target_id    VARCHAR(64)     NULL,
    detail       TEXT            NULL,
    ip           VARCHAR(45)     NULL,
    created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_audit_created (created_at),
    KEY ix_audit_target (target_type, target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Low-stock alerts (edge-triggered), shown on the dashboard.
CREATE TABLE stock_alerts (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    product_id   BIGINT UNSIGNED NOT NULL,
    available    INT             NOT NULL,
    threshold    INT             NOT NULL,
    created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_stock_alerts_product (product_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Liveness of every running service instance, for the dashboard.
CREATE TABLE service_heartbeats (
    instance_id   VARCHAR(64)     NOT NULL,
    service       VARCHAR(32)     NOT NULL,
    hostname      VARCHAR(128)    NOT NULL,
    version       VARCHAR(32)     NOT NULL,
    started_at    DATETIME(3)     NOT NULL,
    last_seen_at  DATETIME(3)     NOT NULL,
    PRIMARY KEY (instance_id),
    KEY ix_heartbeats_service (service, last_seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Operator-editable settings (public base URL, alert webhooks ...).
CREATE TABLE settings (
    name        VARCHAR(64)   NOT NULL,
    value       TEXT          NOT NULL,
    updated_at  DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
