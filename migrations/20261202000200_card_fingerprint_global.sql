-- One card, one sale, anywhere: a card's fingerprint (HMAC of number and password) becomes
-- unique across all products, not per product, so the same card can no longer sit in two
-- products' stock and be sold twice.
--
-- Existing cross-product copies (the old key allowed one per product) are settled first:
--   * one copy keeps the fingerprint, so importing the card again is still refused as a
--     duplicate: a sold copy if there is one (the card went to that order), else the earliest
--     available copy (a card voided in one product and re-imported into another stays in stock),
--     else the earliest copy;
--   * every other copy gets a retired fingerprint (SHA-256 of a fixed label, its id and the old
--     fingerprint: unique, never the HMAC of a real card), and keeps its row: a sold copy stays
--     sold to its order (the order keeps its cards), a void one stays void;
--   * an available copy stays available only if it is the earliest copy and no copy was sold;
--     every other available copy is voided (it was, or will be, sold elsewhere).
-- Cards also gain the status `exported` (a batch export handed them out in clear text); the
-- column is a VARCHAR(12) already and needs no change.

CREATE TEMPORARY TABLE card_dups (
    fingerprint BINARY(32)      NOT NULL,
    keep_id     BIGINT UNSIGNED NOT NULL,
    any_sold    TINYINT         NOT NULL,
    PRIMARY KEY (fingerprint)
) ENGINE=InnoDB;

INSERT INTO card_dups (fingerprint, keep_id, any_sold)
SELECT fingerprint,
       COALESCE(MIN(CASE WHEN status = 'sold' THEN id END),
                MIN(CASE WHEN status = 'available' THEN id END),
                MIN(id)),
       MAX(status = 'sold')
FROM cards
GROUP BY fingerprint
HAVING COUNT(*) > 1;

UPDATE cards c
JOIN card_dups d ON d.fingerprint = c.fingerprint
SET c.status = 'void'
WHERE c.status = 'available' AND (c.id <> d.keep_id OR d.any_sold = 1);

UPDATE cards c
JOIN card_dups d ON d.fingerprint = c.fingerprint
SET c.fingerprint = UNHEX(SHA2(CONCAT('retired-duplicate:', c.id, ':', HEX(d.fingerprint)), 256))
WHERE c.id <> d.keep_id;

DROP TEMPORARY TABLE card_dups;

ALTER TABLE cards
    DROP INDEX uq_cards_fingerprint,
    ADD UNIQUE KEY uq_cards_fingerprint (fingerprint);
