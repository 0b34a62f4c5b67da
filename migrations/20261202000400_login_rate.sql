-- Login attempts per client IP in the current one-minute window, shared by every admin
-- instance (the rate limit used to live in each process's memory).
CREATE TABLE login_rate (
    ip            VARCHAR(45)  NOT NULL,
    window_start  DATETIME(3)  NOT NULL,
    attempts      INT UNSIGNED NOT NULL,
    PRIMARY KEY (ip),
    KEY ix_login_rate_window (window_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
