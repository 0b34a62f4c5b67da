//! 用户 and 账户: only admins see or change users; create (argon2id), change role, disable (the
//! user's session stops working at once) and enable, reset password, unlock — each audited and
//! effective once; the last enabled admin cannot be demoted or disabled; every user changes their
//! own password with the current one, ending their other sessions.

use crate::config::follow;
use crate::{App, PASSWORD};

async fn user_id(app: &App, name: &str) -> u64 {
    sqlx::query_scalar("SELECT id FROM admin_users WHERE username = ?")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn audits(app: &App, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
    ))
    .await
}

#[tokio::test]
async fn users_are_managed_by_admins_only() {
    // Many logins from one address: above the default per-IP rate limit.
    let app = App::start_with(&[("ADMIN_LOGIN_RATE_PER_MINUTE", "1000")]).await;
    let admin = app.login("admin").await;
    let operator = app.login("operator").await;
    let viewer = app.login("viewer").await;
    let op_id = user_id(&app, "operator").await;

    // Viewers and operators: 403 even on GET, and on every POST; nothing changes.
    for (who, b) in [("viewer", &viewer), ("operator", &operator)] {
        assert_eq!(b.get("/admin/users").await.status, 403, "{who}");
        let posts = [
            (
                "/admin/users".to_owned(),
                vec![
                    ("username", "mallory"),
                    ("role", "admin"),
                    ("password", "long enough 1"),
                ],
            ),
            (
                format!("/admin/users/{op_id}/role"),
                vec![("role", "admin")],
            ),
            (
                format!("/admin/users/{op_id}/enabled"),
                vec![("enabled", "0")],
            ),
            (
                format!("/admin/users/{op_id}/password"),
                vec![("password", "long enough 1")],
            ),
            (format!("/admin/users/{op_id}/unlock"), vec![]),
        ];
        for (path, fields) in &posts {
            assert_eq!(b.post(path, fields).await.status, 403, "{who} {path}");
        }
        assert!(
            !b.get("/admin/")
                .await
                .body
                .contains("href=\"/admin/users\""),
            "{who}: no menu entry"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM admin_users").await, 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'user.%'")
            .await,
        0
    );

    let list = admin.get("/admin/users").await;
    assert_eq!(list.status, 200);
    for u in ["admin", "operator", "viewer"] {
        assert!(list.body.contains(&format!("<td>{u}")), "{u}");
    }

    // Create: short password refused; then created once, with an argon2id hash.
    let a = admin
        .post(
            "/admin/users",
            &[
                ("username", "alice"),
                ("role", "operator"),
                ("password", "short"),
            ],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("密码至少 8 个字符"));
    let a = admin
        .post(
            "/admin/users",
            &[
                ("username", "a b"),
                ("role", "operator"),
                ("password", "long enough 1"),
            ],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("用户名只能包含"));
    let a = admin
        .post(
            "/admin/users",
            &[
                ("username", "alice"),
                ("role", "king"),
                ("password", "long enough 1"),
            ],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("请选择角色"));
    assert_eq!(app.count("SELECT COUNT(*) FROM admin_users").await, 3);
    for i in 0..2 {
        let a = admin
            .post(
                "/admin/users",
                &[
                    ("username", "alice"),
                    ("role", "operator"),
                    ("password", "alice password 1"),
                ],
            )
            .await;
        let page = follow(&admin, &a).await;
        assert!(page.contains(if i == 0 {
            "已创建用户「alice」"
        } else {
            "已存在"
        }));
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM admin_users WHERE username = 'alice'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM admin_users WHERE username = 'alice' AND password_hash LIKE '$argon2id$%' AND role = 'operator'")
            .await,
        1
    );
    assert_eq!(audits(&app, "user.create").await, 1);
    let alice_id = user_id(&app, "alice").await;
    let mut alice = app.browser();
    assert_eq!(
        alice.try_login("alice", "alice password 1").await.status,
        303
    );
    assert_eq!(alice.get("/admin/orders").await.status, 200);

    // Role: twice, changed once.
    for _ in 0..2 {
        let a = admin
            .post(
                &format!("/admin/users/{alice_id}/role"),
                &[("role", "viewer")],
            )
            .await;
        assert_eq!(a.status, 303);
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM admin_users WHERE id = {alice_id} AND role = 'viewer'"
        ))
        .await,
        1
    );
    assert_eq!(audits(&app, "user.role").await, 1);

    // Disable: her open session stops working at once; she cannot log in.
    let a = admin
        .post(
            &format!("/admin/users/{alice_id}/enabled"),
            &[("enabled", "0")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("已停用「alice」"));
    assert_eq!(
        alice.get("/admin/orders").await.status,
        303,
        "session ended"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = {alice_id}"
        ))
        .await,
        0
    );
    let mut again = app.browser();
    assert_eq!(
        again.try_login("alice", "alice password 1").await.status,
        401
    );
    admin
        .post(
            &format!("/admin/users/{alice_id}/enabled"),
            &[("enabled", "0")],
        )
        .await;
    assert_eq!(audits(&app, "user.disable").await, 1, "disabled once");
    let a = admin
        .post(
            &format!("/admin/users/{alice_id}/enabled"),
            &[("enabled", "maybe")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("无效的操作"));
    let a = admin
        .post(
            &format!("/admin/users/{alice_id}/enabled"),
            &[("enabled", "1")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("已启用"));
    assert_eq!(
        alice.try_login("alice", "alice password 1").await.status,
        303
    );
    assert_eq!(alice.get("/admin/orders").await.status, 200);

    // Reset password: the old one stops working, her session ends, the new one works.
    let a = admin
        .post(
            &format!("/admin/users/{alice_id}/password"),
            &[("password", "1234567")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("密码至少 8 个字符"));
    let a = admin
        .post(
            &format!("/admin/users/{alice_id}/password"),
            &[("password", "brand new pass")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("已重置「alice」的密码"));
    assert_eq!(alice.get("/admin/orders").await.status, 303);
    let mut fresh = app.browser();
    assert_eq!(
        fresh.try_login("alice", "alice password 1").await.status,
        401
    );
    assert_eq!(fresh.try_login("alice", "brand new pass").await.status, 303);
    assert_eq!(audits(&app, "user.password_reset").await, 1);
    // Not the own password here: that is the account page's job.
    let admin_id = user_id(&app, "admin").await;
    let a = admin
        .post(
            &format!("/admin/users/{admin_id}/password"),
            &[("password", "whatever 123")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("账户"));

    // Unlock: a locked account logs in again after it; a second unlock changes nothing.
    sqlx::query("UPDATE admin_users SET failed_logins = 4, locked_until = NOW(3) + INTERVAL 1 HOUR WHERE id = ?")
        .bind(alice_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut locked = app.browser();
    // Locked: the answer is the wrong-password one.
    assert_eq!(
        locked.try_login("alice", "brand new pass").await.status,
        401
    );
    assert!(admin.get("/admin/users").await.body.contains("锁定至"));
    for _ in 0..2 {
        admin
            .post(&format!("/admin/users/{alice_id}/unlock"), &[])
            .await;
    }
    assert_eq!(audits(&app, "user.unlock").await, 1);
    assert_eq!(
        locked.try_login("alice", "brand new pass").await.status,
        303
    );

    // The last enabled admin: cannot demote or disable themself.
    let a = admin
        .post(
            &format!("/admin/users/{admin_id}/role"),
            &[("role", "operator")],
        )
        .await;
    assert!(
        follow(&admin, &a)
            .await
            .contains("不能停用或降级最后一个启用的管理员")
    );
    let a = admin
        .post(
            &format!("/admin/users/{admin_id}/enabled"),
            &[("enabled", "0")],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("最后一个启用的管理员"));
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM admin_users WHERE id = {admin_id} AND role = 'admin' AND enabled = 1")).await,
        1
    );
    // With a second admin it is allowed, and the demoted admin loses the page at once.
    admin
        .post(
            &format!("/admin/users/{alice_id}/role"),
            &[("role", "admin")],
        )
        .await;
    let a = admin
        .post(
            &format!("/admin/users/{admin_id}/role"),
            &[("role", "operator")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(admin.get("/admin/users").await.status, 403);
    // Now alice is the last one.
    let mut alice = app.browser();
    assert_eq!(alice.try_login("alice", "brand new pass").await.status, 303);
    let home = alice.get("/admin/users").await;
    assert_eq!(home.status, 200);
    alice.csrf = crate::csrf_of(&home.body).unwrap();
    let a = alice
        .post(
            &format!("/admin/users/{alice_id}/enabled"),
            &[("enabled", "0")],
        )
        .await;
    assert!(follow(&alice, &a).await.contains("最后一个启用的管理员"));
    assert_eq!(
        admin
            .post("/admin/users/999999/role", &[("role", "viewer")])
            .await
            .status,
        403
    );
    assert_eq!(
        alice
            .post("/admin/users/999999/role", &[("role", "viewer")])
            .await
            .status,
        404
    );
    assert_eq!(alice.post("/admin/users/x/unlock", &[]).await.status, 404);
    // No password in any audit row.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%brand new%' OR detail LIKE '%alice password%'")
            .await,
        0
    );
    drop(viewer);
    app.stop().await;
}

#[tokio::test]
async fn everyone_changes_their_own_password() {
    let app = App::start().await;
    let viewer = app.login("viewer").await;
    let other = app.login("viewer").await;
    let page = viewer.get("/admin/account").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("有效登录会话</dt><dd>2 个"));
    let hash_before: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE username = 'viewer'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    for (fields, msg) in [
        (
            vec![
                ("current", "wrong password"),
                ("new", "new password 1"),
                ("confirm", "new password 1"),
            ],
            "当前密码不正确",
        ),
        (
            vec![
                ("current", PASSWORD),
                ("new", "new password 1"),
                ("confirm", "new password 2"),
            ],
            "两次输入的新密码不一致",
        ),
        (
            vec![
                ("current", PASSWORD),
                ("new", "short"),
                ("confirm", "short"),
            ],
            "新密码至少 8 个字符",
        ),
        (
            vec![
                ("current", PASSWORD),
                ("new", PASSWORD),
                ("confirm", PASSWORD),
            ],
            "不能与当前密码相同",
        ),
        (
            vec![("new", "new password 1"), ("confirm", "new password 1")],
            "请输入当前密码",
        ),
    ] {
        let a = viewer.post("/admin/account/password", &fields).await;
        assert!(follow(&viewer, &a).await.contains(msg), "{msg}");
    }
    let hash_after: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE username = 'viewer'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(hash_before, hash_after, "refused changes change nothing");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'account.password_failed'")
            .await,
        1
    );
    // Without the CSRF token: refused.
    assert_eq!(
        viewer
            .post_raw(
                "/admin/account/password",
                &[
                    ("current", PASSWORD),
                    ("new", "new password 1"),
                    ("confirm", "new password 1")
                ]
            )
            .await
            .status,
        403
    );

    let a = viewer
        .post(
            "/admin/account/password",
            &[
                ("current", PASSWORD),
                ("new", "new password 1"),
                ("confirm", "new password 1"),
            ],
        )
        .await;
    assert!(
        follow(&viewer, &a)
            .await
            .contains("密码已修改，其他 1 个登录会话已结束")
    );
    assert_eq!(
        viewer.get("/admin/").await.status,
        200,
        "this session stays"
    );
    assert_eq!(
        other.get("/admin/").await.status,
        303,
        "the other one ended"
    );
    let mut b = app.browser();
    assert_eq!(b.try_login("viewer", PASSWORD).await.status, 401);
    assert_eq!(b.try_login("viewer", "new password 1").await.status, 303);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'account.password' AND username = 'viewer'")
            .await,
        1
    );
    // A repeat with the old current password is refused (changed once).
    let a = viewer
        .post(
            "/admin/account/password",
            &[
                ("current", PASSWORD),
                ("new", "new password 1"),
                ("confirm", "new password 1"),
            ],
        )
        .await;
    assert!(follow(&viewer, &a).await.contains("当前密码不正确"));
    app.stop().await;
}
