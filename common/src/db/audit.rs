//! Audit log: every operator write and every reveal/export of card secrets.

use sqlx::MySqlExecutor;

pub struct AuditEntry<'a> {
    pub user_id: Option<u64>,
    pub username: &'a str,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<&'a str>,
}

pub async fn record(ex: impl MySqlExecutor<'_>, e: AuditEntry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (user_id, username, action, target_type, target_id, detail, ip)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.user_id)
    .bind(e.username)
    .bind(e.action)
    .bind(e.target_type)
    .bind(e.target_id)
    .bind(e.detail)
    .bind(e.ip)
    .execute(ex)
    .await?;
    Ok(())
}
