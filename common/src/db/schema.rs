//! Refuses to run against a schema this binary does not know. Migrations only move forward: after
//! an upgrade, an older binary (a rolled-back image) finds migrations applied that it does not
//! have, and a binary started without applying its migrations (`RUN_MIGRATIONS=false`, as in
//! compose) may find some of its own missing. Either way its SQL no longer matches the tables,
//! so it stops at start with one line saying what to do, instead of running half-wrong.
//!
//! Called before the migrations are applied (`service::Infra::start`, the admin CLI), so the
//! operator gets this explanation rather than sqlx's `VersionMissing` error.

use std::collections::BTreeSet;

use super::{MIGRATOR, Pool};

/// The schema's state relative to this binary's embedded migrations.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchemaState {
    /// Applied to the database, unknown to this binary (the database is newer).
    pub unknown: Vec<i64>,
    /// Known to this binary, not applied yet.
    pub pending: Vec<i64>,
}

/// Compares the applied migrations (`_sqlx_migrations`; none when the table does not exist yet)
/// with the embedded ones.
pub async fn state(pool: &Pool) -> sqlx::Result<SchemaState> {
    let applied: Vec<i64> = match sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(pool)
        .await
    {
        Ok(v) => v,
        // ER_NO_SUCH_TABLE: a fresh database, nothing applied.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42S02") => Vec::new(),
        Err(e) => return Err(e),
    };
    let applied: BTreeSet<i64> = applied.into_iter().collect();
    let known: BTreeSet<i64> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect();
    Ok(SchemaState {
        unknown: applied.difference(&known).copied().collect(),
        pending: known.difference(&applied).copied().collect(),
    })
}

/// Fails (with an operator's message in Chinese) when the database has migrations this binary
/// does not know, or — when it is not going to apply them (`will_migrate` false) — lacks some of
/// its own.
pub async fn check(pool: &Pool, will_migrate: bool) -> anyhow::Result<()> {
    let s = state(pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the applied migrations: {e}"))?;
    if let Some(newest) = s.unknown.last() {
        anyhow::bail!(
            "数据库结构比本程序新：数据库已应用 {} 个本程序不认识的迁移（最新 {newest}），拒绝启动。\
             这通常是升级后又换回了旧版本：请运行与数据库相同或更新的版本，\
             或从升级前的备份恢复数据库（见 docs/OPERATIONS.md「升级与回退」）",
            s.unknown.len()
        );
    }
    if !will_migrate && let Some(first) = s.pending.first() {
        anyhow::bail!(
            "数据库结构比本程序旧：还有 {} 个迁移未应用（最早 {first}），拒绝启动。\
             请先运行 admin migrate（compose 中为 migrate 服务），或设置 RUN_MIGRATIONS=true",
            s.pending.len()
        );
    }
    Ok(())
}
