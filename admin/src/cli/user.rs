//! `admin create-user`: a back-office user, its password never a flag.

use std::io::BufRead;

use common::config::Env;
use common::db::{self, users};
use common::domain::Role;

use super::{CliError, audit_cli, fail, open, read_hidden};

/// Reads the password (asked twice without echo at a terminal, else one line of standard input)
/// and creates the user.
pub(super) async fn run(
    env: &Env,
    username: &str,
    role: Role,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = read_hidden(&format!("请输入用户 {username} 的密码（输入时不显示）："))?;
        let again = read_hidden("请再次输入密码：")?;
        if first != again {
            return Err(fail("两次输入的密码不一致，未创建用户"));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    create_user(env, username, role, &password, out).await
}

/// Creates a back-office user with an argon2id hash of `password`.
pub async fn create_user(
    env: &Env,
    username: &str,
    role: Role,
    password: &str,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    let username = username.trim();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(fail("用户名应为 1-64 个字符"));
    }
    if password.chars().count() < crate::password::MIN_PASSWORD_CHARS {
        return Err(fail(format!(
            "密码至少 {} 个字符（从标准输入读取）",
            crate::password::MIN_PASSWORD_CHARS
        )));
    }
    let pool = open(env).await?;
    let hash = crate::password::hash(password)?;
    let id = users::insert(&pool, username, &hash, role)
        .await
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                fail(format!("用户 {username} 已存在"))
            } else {
                e.into()
            }
        })?;
    audit_cli(
        &pool,
        "user.create",
        "user",
        id.to_string(),
        Some(format!("{username} role={}", role.as_str())),
    )
    .await?;
    writeln!(out, "已创建用户 #{id} {username}（角色 {}）", role.as_str())?;
    Ok(())
}
