//! The SQL of 操作审计 (rows are written by `common::db::audit::record`).

use chrono::NaiveDateTime;
use common::db::Pool;

use crate::web::page::Where;

#[derive(sqlx::FromRow)]
pub struct Row {
    pub username: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A page of the audit log, newest first.
pub async fn page(pool: &Pool, w: &Where, per_page: u64, offset: u64) -> sqlx::Result<Vec<Row>> {
    let sql = format!(
        "SELECT a.username, a.action, a.target_type, a.target_id, a.detail, a.ip, a.created_at
         FROM (SELECT id FROM audit_log{} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}) t
         JOIN audit_log a ON a.id = t.id
         ORDER BY a.created_at DESC, a.id DESC",
        w.sql(),
        per_page,
        offset
    );
    w.bind_as(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(pool)
        .await
}
