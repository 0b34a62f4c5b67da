-- Agiso (阿奇索): every push or polled trade as received, and the Agiso side of each order.

-- One row per (service, order, topic, sub-key): a push Agiso repeats, or a trade the backstop
-- poll finds again, is stored once. `sub_key` separates events of one topic: a refund is
-- `<Oid>:<RefundId>` (`:<RefundId>` for the whole trade), a payload that could not be read is
-- `unreadable` (so it never takes the key of the readable order); it is '' otherwise.
CREATE TABLE agiso_events (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    shop_id       BIGINT UNSIGNED NOT NULL,
    service       VARCHAR(16)     NOT NULL,            -- alds | aldsJd
    tid           VARCHAR(32)     NOT NULL,
    aopic         BIGINT          NOT NULL,
    sub_key       VARCHAR(64)     NOT NULL DEFAULT '',
    topic         VARCHAR(32)     NOT NULL,            -- taobao_paid | jd_vtp_paid | … | other
    source        VARCHAR(8)      NOT NULL,            -- push | poll
    payload       MEDIUMTEXT      NOT NULL,            -- the message JSON exactly as received
    state         VARCHAR(16)     NOT NULL,            -- done | pending (lines to read) | ignored
    note          VARCHAR(255)    NULL,                -- what handling it did, for operators
    received_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    processed_at  DATETIME(3)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_agiso_events (service, tid, aopic, sub_key),
    KEY ix_agiso_events_state (state, received_at),
    KEY ix_agiso_events_shop (shop_id, received_at),
    KEY ix_agiso_events_tid (tid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The Agiso side of an order (platform 'agiso'): which Agiso order and line it is, and how it
-- is delivered. The delivery schedule itself is the order's notify_* columns, as for JD.
CREATE TABLE agiso_orders (
    order_id      BIGINT UNSIGNED NOT NULL,
    service       VARCHAR(16)     NOT NULL,
    tid           VARCHAR(32)     NOT NULL,
    order_type    VARCHAR(24)     NOT NULL,            -- taobao | jd_game_card | jd_game_recharge | jd_vtp
    step          VARCHAR(16)     NOT NULL DEFAULT 'none', -- none | result_stored (Taobao cards stored, not yet shipped)
    PRIMARY KEY (order_id),
    KEY ix_agiso_orders_tid (service, tid),
    CONSTRAINT fk_agiso_orders_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The backstop poll's window start per shop (Taobao TradesBuyerPay modifyTimeStart).
CREATE TABLE agiso_poll_marks (
    shop_id       BIGINT UNSIGNED NOT NULL,
    polled_until  DATETIME(3)     NOT NULL,
    PRIMARY KEY (shop_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
