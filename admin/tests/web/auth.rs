//! Login, lockout, rate limit, sessions, CSRF and roles.

use crate::{App, PASSWORD, csrf_of};

#[tokio::test]
async fn login_required_wrong_password_and_logout() {
    let app = App::start().await;
    let anon = app.browser();
    // Every page needs a session; the login page remembers where the operator was going.
    let a = anon.get("/admin/orders?status=failed").await;
    assert_eq!(a.status, 303);
    assert_eq!(
        a.location.as_deref(),
        Some("/admin/login?next=%2Fadmin%2Forders%3Fstatus%3Dfailed")
    );
    assert_eq!(
        anon.get("/admin/").await.location.as_deref(),
        Some("/admin/login")
    );

    let mut b = app.browser();
    let a = b.try_login("operator", "wrong password").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("用户名或密码错误"), "{}", a.body);
    let a = b.try_login("nobody", PASSWORD).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("用户名或密码错误"));
    assert_eq!(
        b.get("/admin/").await.status,
        303,
        "no session after failures"
    );

    let a = b.try_login("operator", PASSWORD).await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location.as_deref(), Some("/admin/"));
    let cookie = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("vg_admin="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    let home = b.get("/admin/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("仪表盘"));
    for h in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
    ] {
        assert!(home.headers.contains_key(h), "missing {h}");
    }
    // Audit trail of the failures and the login; no password anywhere.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%{PASSWORD}%' OR detail LIKE '%wrong password%'"
        ))
        .await,
        0
    );

    // Logout ends the session on the server, not only in the browser.
    let csrf = csrf_of(&home.body).unwrap();
    let out = b.post_raw("/admin/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(b.get("/admin/").await.status, 303);
    app.stop().await;
}

#[tokio::test]
async fn lockout_after_repeated_failures() {
    let app = App::start_with(&[("ADMIN_LOGIN_MAX_FAILURES", "3")]).await;
    let mut b = app.browser();
    for _ in 0..2 {
        assert_eq!(b.try_login("viewer", "nope nope").await.status, 401);
    }
    let third = b.try_login("viewer", "nope nope").await;
    let wrong = b.try_login("operator", "nope nope").await;
    // The lock answers exactly like a wrong password: nothing tells a guesser it is locked.
    assert_eq!(third.status, 401);
    assert!(!third.body.contains("锁定"), "{}", third.body);
    // Locked: even the right password is refused, with the same answer.
    let right = b.try_login("viewer", PASSWORD).await;
    assert_eq!(right.status, 401);
    let strip = |body: &str| body.replace("viewer", "").replace("operator", "");
    let form_free = |body: &str| {
        // The page differs only by the fresh CSRF token and the name typed back.
        let t = csrf_of(body).unwrap_or_default();
        strip(&body.replace(&t, ""))
    };
    assert_eq!(form_free(&right.body), form_free(&wrong.body));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM admin_users WHERE username = 'viewer' AND locked_until > NOW(3)"
        )
        .await,
        1
    );
    sqlx::query("UPDATE admin_users SET failed_logins = 0 WHERE username = 'operator'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    // Other accounts are not affected.
    assert_eq!(b.try_login("operator", PASSWORD).await.status, 303);
    // When the lock ends, the right password works again.
    sqlx::query("UPDATE admin_users SET locked_until = NOW(3) - INTERVAL 1 SECOND WHERE username = 'viewer'")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut v = app.browser();
    assert_eq!(v.try_login("viewer", PASSWORD).await.status, 303);
    app.stop().await;
}

/// Failures are counted in SQL, so concurrent wrong passwords on two instances all count and
/// the rate limit is shared by every instance.
#[tokio::test]
async fn lockout_and_rate_limit_are_shared_by_instances() {
    let app = App::start_with(&[
        ("ADMIN_LOGIN_MAX_FAILURES", "4"),
        ("ADMIN_LOGIN_RATE_PER_MINUTE", "6"),
    ])
    .await;
    let replica = app.replica().await;
    let mut tries = Vec::new();
    for i in 0..4 {
        let base = if i % 2 == 0 { &app.base } else { &replica };
        let mut b = app.browser_at(base);
        tries.push(tokio::spawn(async move {
            b.try_login("viewer", "nope nope").await.status
        }));
    }
    for t in tries {
        assert_eq!(t.await.unwrap(), 401);
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM admin_users WHERE username = 'viewer' AND locked_until > NOW(3)"
        )
        .await,
        1,
        "four concurrent failures on two instances lock the account"
    );
    // Two more attempts reach the shared limit of 6 per minute; the 7th is refused on either.
    let mut b = app.browser_at(&replica);
    assert_ne!(b.try_login("nobody", "x").await.status, 429);
    let mut b = app.browser_at(&app.base);
    assert_ne!(b.try_login("nobody", "x").await.status, 429);
    assert_eq!(b.try_login("admin", PASSWORD).await.status, 429);
    let mut b = app.browser_at(&replica);
    assert_eq!(b.try_login("admin", PASSWORD).await.status, 429);
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_never_store_an_unknown_username_in_full() {
    let app = App::start().await;
    let mut b = app.browser();
    let typed = "correct-horse-battery-staple";
    assert_eq!(b.try_login(typed, "x").await.status, 401);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT username FROM audit_log WHERE action = 'login.failed'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(typed), "{stored:?}");
    assert!(stored[0].starts_with("***（"), "{stored:?}");
    app.stop().await;
}

#[tokio::test]
async fn login_rate_limit_per_ip() {
    let app = App::start_with(&[("ADMIN_LOGIN_RATE_PER_MINUTE", "4")]).await;
    let mut b = app.browser();
    for _ in 0..4 {
        assert_ne!(b.try_login("nobody", "x").await.status, 429);
    }
    let limited = b.try_login("admin", PASSWORD).await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("过于频繁"));
    app.stop().await;
}

#[tokio::test]
async fn csrf_token_is_required_on_every_write() {
    let app = App::start().await;
    let b = app.login("admin").await;
    // No token, a wrong token: 403 and nothing changes.
    let none = b.post_raw("/admin/logout", &[]).await;
    assert_eq!(none.status, 403);
    assert!(none.body.contains("CSRF"));
    let wrong = b.post_raw("/admin/logout", &[("_csrf", "0123")]).await;
    assert_eq!(wrong.status, 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
    // The login form has its own token too.
    let anon = app.browser();
    let a = anon
        .post_raw(
            "/admin/login",
            &[("username", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn bootstrap_admin_from_environment() {
    let app = App::start_with(&[
        ("ADMIN_BOOTSTRAP_USER", "root"),
        ("ADMIN_BOOTSTRAP_PASSWORD", "bootstrap-secret-1"),
    ])
    .await;
    // App::start seeds its users after the service started: the bootstrap user came first.
    let mut b = app.browser();
    assert_eq!(b.try_login("root", "bootstrap-secret-1").await.status, 303);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM admin_users WHERE username = 'root' AND role = 'admin'")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn login_bodies_are_small() {
    let app = App::start().await;
    let b = app.browser();
    let form = b.get("/admin/login").await;
    let token = csrf_of(&form.body).expect("login form token");
    let huge = "x".repeat(64 * 1024);
    let a = b
        .post_raw(
            "/admin/login",
            &[("_csrf", &token), ("username", &huge), ("password", "x")],
        )
        .await;
    assert_eq!(
        a.status, 413,
        "an unauthenticated body beyond 4 KiB is refused"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log").await,
        0,
        "nothing recorded"
    );
    app.stop().await;
}

/// However active, a session ends `ADMIN_SESSION_MAX_HOURS` after its login; the sliding idle
/// expiry never extends it past that.
#[tokio::test]
async fn sessions_have_an_absolute_lifetime() {
    let app = App::start_with(&[("ADMIN_SESSION_MAX_HOURS", "2")]).await;
    let b = app.login("operator").await;
    assert_eq!(b.get("/admin/").await.status, 200);
    // Active a minute ago, logged in 1 h 59 min ago: still valid, and its idle expiry slides
    // only up to the absolute end.
    sqlx::query(
        "UPDATE sessions SET created_at = NOW(3) - INTERVAL 119 MINUTE,
            last_seen_at = NOW(3) - INTERVAL 2 MINUTE",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(b.get("/admin/").await.status, 200);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sessions
             WHERE expires_at <= created_at + INTERVAL 2 HOUR AND expires_at > NOW(3)"
        )
        .await,
        1,
        "the idle expiry stops at the absolute end"
    );
    // Logged in just over 2 h ago, idle expiry still hours away: the session is over.
    sqlx::query(
        "UPDATE sessions SET created_at = NOW(3) - INTERVAL 121 MINUTE,
            expires_at = NOW(3) + INTERVAL 10 HOUR",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let a = b.get("/admin/").await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location.as_deref(), Some("/admin/login"));
    app.stop().await;
}

#[tokio::test]
async fn login_page_tells_how_to_create_the_first_user_until_one_exists() {
    let app = App::start_without_users().await;
    let anon = app.browser();
    let compose = "docker compose run --rm admin admin create-user --username admin --role admin";
    let binary = "admin create-user --username admin --role admin";
    let page = anon.get("/admin/login").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("还没有任何后台用户"), "{}", page.body);
    assert!(page.body.contains(compose), "{}", page.body);
    assert!(page.body.contains(binary), "{}", page.body);
    // A failed login (nobody can log in yet) shows it too.
    let mut b = app.browser();
    let a = b.try_login("admin", PASSWORD).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains(compose), "{}", a.body);

    // Once a user exists (created by another process), the notice is gone and the user logs in.
    let hash = admin::password::hash(PASSWORD).unwrap();
    common::db::users::insert(&app.pool, "admin", &hash, common::domain::Role::Admin)
        .await
        .unwrap();
    let page = anon.get("/admin/login").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("还没有任何后台用户"), "{}", page.body);
    assert!(!page.body.contains(compose));
    let mut b = app.browser();
    assert_eq!(b.try_login("admin", PASSWORD).await.status, 303);
    app.stop().await;
}

#[tokio::test]
async fn seeded_admin_login_page_has_no_first_user_notice() {
    let app = App::start().await;
    let page = app.browser().get("/admin/login").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("还没有任何后台用户"), "{}", page.body);
    app.stop().await;
}
