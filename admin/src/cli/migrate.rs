//! `admin migrate [--reseal]`.

use common::config::Env;

use super::{CliError, connect_migrated};

pub(super) async fn run(
    env: &Env,
    reseal: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    let (_, r) = connect_migrated(env, reseal).await?;
    writeln!(out, "数据库迁移已完成 (migrations applied)")?;
    if r.resealed > 0 || r.drafts_dropped > 0 {
        writeln!(
            out,
            "已将 {} 个旧格式密文重新加密并绑定所在行；删除了 {} 个旧格式的卡密导入预览（请重新预览）",
            r.resealed, r.drafts_dropped
        )?;
    }
    if r.unreadable > 0 {
        writeln!(
            out,
            "警告：{} 个旧格式密文无法用当前 MASTER_KEY 解密，保持原样；请确认 MASTER_KEY 是否正确",
            r.unreadable
        )?;
    }
    Ok(())
}
