//! The SQL of the dashboard (运营概览): order counts and amounts by status and platform, the
//! 24-hour chart, the products whose low-stock alert is armed, the services' heartbeats.

use chrono::NaiveDateTime;
use common::db::Pool;
use common::domain::{OrderStatus, Platform};

/// Per (status, platform) since `week_start`: orders and fen since `today_start`, orders and fen
/// in the whole week.
pub async fn order_groups(
    pool: &Pool,
    today_start: NaiveDateTime,
    week_start: NaiveDateTime,
) -> sqlx::Result<Vec<(OrderStatus, Platform, i64, i64, i64, i64)>> {
    sqlx::query_as(
        "SELECT status, platform,
            CAST(SUM(created_at >= ?) AS SIGNED),
            CAST(COALESCE(SUM(IF(created_at >= ?, total_price_fen, 0)), 0) AS SIGNED),
            COUNT(*),
            CAST(COALESCE(SUM(total_price_fen), 0) AS SIGNED)
         FROM orders WHERE created_at >= ?
         GROUP BY status, platform",
    )
    .bind(today_start)
    .bind(today_start)
    .bind(week_start)
    .fetch_all(pool)
    .await
}

/// Per hour since `since` (hours after it): orders and failed orders.
pub async fn hourly(pool: &Pool, since: NaiveDateTime) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    sqlx::query_as(
        "SELECT TIMESTAMPDIFF(HOUR, ?, created_at) AS h, COUNT(*),
            CAST(SUM(status = 'failed') AS SIGNED)
         FROM orders WHERE created_at >= ?
         GROUP BY h",
    )
    .bind(since)
    .bind(since)
    .fetch_all(pool)
    .await
}

/// Products whose edge-triggered low-stock alert is armed (id, name, threshold), at most 50.
pub async fn low_stock_products(pool: &Pool) -> sqlx::Result<Vec<(u64, String, i32)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, low_stock_threshold FROM products
         WHERE {} ORDER BY name LIMIT 50",
        crate::gauges::LOW_STOCK_PRODUCTS
    )))
    .fetch_all(pool)
    .await
}

/// The heartbeats of the last day: service, host, version, started, last seen, seconds since.
pub async fn heartbeats(
    pool: &Pool,
) -> sqlx::Result<Vec<(String, String, String, NaiveDateTime, NaiveDateTime, i64)>> {
    sqlx::query_as(
        "SELECT service, hostname, version, started_at, last_seen_at,
            TIMESTAMPDIFF(SECOND, last_seen_at, NOW(3))
         FROM service_heartbeats
         WHERE last_seen_at > NOW(3) - INTERVAL 1 DAY
         ORDER BY service, hostname, started_at",
    )
    .fetch_all(pool)
    .await
}
