-- The back office's card import: what an operator previewed, kept until committed. The parsed
-- cards never sit in clear text: each part is an AES-256-GCM blob under MASTER_KEY. A draft
-- belongs to the user who uploaded it, expires, and is committed at most once (status).

CREATE TABLE card_import_drafts (
    id            CHAR(32)        NOT NULL,                 -- random token carried by the preview form
    user_id       BIGINT UNSIGNED NOT NULL,
    product_id    BIGINT UNSIGNED NOT NULL,
    source        VARCHAR(255)    NOT NULL,                 -- file name or 粘贴
    total_lines   INT             NOT NULL,
    new_cards     INT             NOT NULL,
    dup_in_file   INT             NOT NULL,
    dup_in_stock  INT             NOT NULL,
    invalid       INT             NOT NULL,
    status        VARCHAR(12)     NOT NULL DEFAULT 'pending', -- pending | committed
    batch_id      VARCHAR(64)     NULL,                     -- set by the commit
    inserted      INT             NULL,                     -- set by the commit
    expires_at    DATETIME(3)     NOT NULL,
    created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_card_import_drafts_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The draft's new cards, in parts of about 1 MB of clear text each (a part per row keeps every
-- statement far below max_allowed_packet). Deleted when the draft is committed or expires.
CREATE TABLE card_import_draft_parts (
    draft_id   CHAR(32)        NOT NULL,
    seq        INT             NOT NULL,
    cards_enc  MEDIUMBLOB      NOT NULL,
    PRIMARY KEY (draft_id, seq),
    CONSTRAINT fk_card_import_draft_parts FOREIGN KEY (draft_id) REFERENCES card_import_drafts (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
