//! 系统配置 and 接口地址: shops of the three platforms created and edited through the forms with
//! their secrets stored encrypted (decrypted and compared here), never shown but masked, kept
//! when an edit leaves them blank; refused bad keys and allow-lists; roles; the resend of a
//! shop's given-up callbacks (once); the self-test's signatures against an independent
//! computation and its Agiso balance query against a fake Agiso gateway; the URL generator.

use std::sync::{Arc, Mutex};

use common::db::shops::{self, ShopRow, ShopSecret};
use common::domain::{OrderStatus, Platform, ShopMode};
use common::testing::fixtures::StoredOrder;

use crate::{Answer, App, Browser, assert_no_secret};

const MD5_KEY: &str = "md5-KEY-0123456789abcdefXYZ";
const AES_KEY: &str = "AESkey0123456789abcdefghijklmnop";
const MD5_KEY_2: &str = "second-MD5-key-9876543210";
const PRIVATE_KEY: &str = common::protocol::vectors::game::K;
const APP_SECRET: &str = common::protocol::vectors::agiso::DEMO_SECRET;
const ACCESS_TOKEN: &str = "AldsJdToken-secret-0123456789";

fn mask(s: &str) -> String {
    common::crypto::at_rest::mask_secret(s)
}

/// Follows a redirect after a POST and returns the page (with its flash message).
pub async fn follow(b: &Browser, a: &Answer) -> String {
    assert_eq!(a.status, 303, "expected a redirect: {}", a.body);
    let to = a.location.clone().expect("location");
    let page = b.get(&to).await;
    assert_eq!(page.status, 200, "{to}");
    page.body
}

/// Undoes askama's HTML escaping.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The texts of `<dd ...>` (or its `<code>`) following each `<dt>label</dt>`.
fn values_after(html: &str, label: &str) -> Vec<String> {
    let marker = format!("<dt>{label}</dt>");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            let dd_end = rest.find("</dd>").expect("dd");
            let dd = &rest[..dd_end];
            let inner = match dd.find("<code>") {
                Some(c) => &dd[c + 6..dd.find("</code>").expect("code end")],
                None => &dd[dd.find('>').expect("dd open") + 1..],
            };
            unescape(inner)
        })
        .collect()
}

async fn shop_row(app: &App, name: &str) -> ShopRow {
    let id: u64 = sqlx::query_scalar("SELECT id FROM shops WHERE name = ?")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    shops::get(&app.pool, id).await.unwrap().unwrap()
}

fn secret(row: &ShopRow, which: ShopSecret) -> Option<String> {
    row.secret(&common::testing::master_key(), which).unwrap()
}

fn jd_general_form<'a>(name: &'a str, vendor: &'a str, aes: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("merchant_id", vendor),
        ("md5_key", MD5_KEY),
        ("aes_key", aes),
        ("mode", "test"),
        ("ip_allowlist", "1.2.3.4，10.0.0.0/8"),
        ("enabled", "1"),
    ]
}

async fn create_shops(app: &App, admin: &Browser) {
    let a = admin
        .post(
            "/admin/config/shops?platform=jd_general",
            &jd_general_form("通用交易一店", "1201", AES_KEY),
        )
        .await;
    assert!(
        follow(admin, &a)
            .await
            .contains("已创建店铺「通用交易一店」")
    );
    let a = admin
        .post(
            "/admin/config/shops?platform=jd_game",
            &[
                ("name", "点卡一店"),
                ("merchant_id", "10817"),
                ("private_key", PRIVATE_KEY),
                ("mode", "prod"),
                ("card_callback_url", "https://jd.example/api/cardApi.action"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let a = admin
        .post(
            "/admin/config/shops?platform=agiso",
            &[
                ("name", "阿奇索一店"),
                ("merchant_id", "app-2024"),
                ("agiso_service", "aldsJd"),
                ("app_secret", APP_SECRET),
                ("access_token", ACCESS_TOKEN),
                ("mode", "prod"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM shops").await, 3);
}

const ALL_SECRETS: [&str; 6] = [
    MD5_KEY,
    AES_KEY,
    MD5_KEY_2,
    PRIVATE_KEY,
    APP_SECRET,
    ACCESS_TOKEN,
];

#[tokio::test]
async fn shops_are_created_and_edited_with_secrets_never_shown() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    let empty = admin.get("/admin/config").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("还没有京东通用交易店铺"));
    for p in ["jd_general", "jd_game", "agiso"] {
        let form = admin
            .get(&format!("/admin/config/shops/new?platform={p}"))
            .await;
        assert_eq!(form.status, 200, "{p}");
    }
    assert_eq!(
        admin
            .get("/admin/config/shops/new?platform=taobao")
            .await
            .status,
        400
    );
    create_shops(&app, &admin).await;

    // Stored encrypted: the columns hold no clear text, the decrypted values are the typed ones.
    let g = shop_row(&app, "通用交易一店").await;
    assert_eq!(g.platform, Platform::JdGeneral);
    assert_eq!(g.merchant_id, "1201");
    assert_eq!(g.mode, ShopMode::Test);
    assert!(g.enabled);
    assert_eq!(g.ip_allowlist.as_deref(), Some("1.2.3.4, 10.0.0.0/8"));
    assert_eq!(secret(&g, ShopSecret::Md5Key).as_deref(), Some(MD5_KEY));
    assert_eq!(secret(&g, ShopSecret::AesKey).as_deref(), Some(AES_KEY));
    let raw = g.md5_key_enc.clone().unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains(MD5_KEY));
    let game = shop_row(&app, "点卡一店").await;
    assert_eq!(
        secret(&game, ShopSecret::PrivateKey).as_deref(),
        Some(PRIVATE_KEY)
    );
    assert_eq!(
        game.card_callback_url.as_deref(),
        Some("https://jd.example/api/cardApi.action")
    );
    let ag = shop_row(&app, "阿奇索一店").await;
    assert_eq!(ag.agiso_service, "aldsJd");
    assert!(!ag.enabled, "unticked box: disabled");
    assert_eq!(
        secret(&ag, ShopSecret::AppSecret).as_deref(),
        Some(APP_SECRET)
    );
    assert_eq!(
        secret(&ag, ShopSecret::AccessToken).as_deref(),
        Some(ACCESS_TOKEN)
    );

    // The list: masked forms only, for every role.
    for who in ["admin", "operator", "viewer"] {
        let b = app.login(who).await;
        let list = b.get("/admin/config").await;
        assert_eq!(list.status, 200, "{who}");
        assert_no_secret(&list.body, &ALL_SECRETS);
        for s in [MD5_KEY, AES_KEY, PRIVATE_KEY, APP_SECRET, ACCESS_TOKEN] {
            assert!(
                list.body.contains(&mask(s)),
                "{who}: mask of a secret missing"
            );
        }
        assert!(list.body.contains("1.2.3.4, 10.0.0.0/8"));
        assert_eq!(list.body.contains("/edit\""), who == "admin", "{who}");
    }

    // The edit page: empty secret fields, masked current values.
    let edit = admin
        .get(&format!("/admin/config/shops/{}/edit", g.id))
        .await;
    assert_eq!(edit.status, 200);
    assert_no_secret(&edit.body, &ALL_SECRETS);
    assert!(edit.body.contains(&mask(MD5_KEY)));
    assert!(edit.body.contains("name=\"md5_key\" value=\"\""));

    // Blank secrets keep the stored ones; other fields change.
    let path = format!("/admin/config/shops/{}", g.id);
    let a = admin
        .post(
            &path,
            &[
                ("name", "通用交易一店（改）"),
                ("merchant_id", "1201"),
                ("md5_key", ""),
                ("aes_key", ""),
                ("mode", "prod"),
                ("ip_allowlist", ""),
                ("enabled", "1"),
            ],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("已保存店铺"));
    let g2 = shops::get(&app.pool, g.id).await.unwrap().unwrap();
    assert_eq!(g2.name, "通用交易一店（改）");
    assert_eq!(g2.mode, ShopMode::Prod);
    assert_eq!(g2.ip_allowlist, None, "empty allow-list: any caller");
    assert_eq!(secret(&g2, ShopSecret::Md5Key).as_deref(), Some(MD5_KEY));
    assert_eq!(secret(&g2, ShopSecret::AesKey).as_deref(), Some(AES_KEY));
    assert_eq!(g2.md5_key_enc, g.md5_key_enc, "blob untouched");

    // A typed secret replaces only that one.
    let a = admin
        .post(
            &path,
            &[
                ("name", "通用交易一店（改）"),
                ("merchant_id", "1201"),
                ("md5_key", MD5_KEY_2),
                ("mode", "prod"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 303);
    let g3 = shops::get(&app.pool, g.id).await.unwrap().unwrap();
    assert_eq!(secret(&g3, ShopSecret::Md5Key).as_deref(), Some(MD5_KEY_2));
    assert_eq!(secret(&g3, ShopSecret::AesKey).as_deref(), Some(AES_KEY));

    // The same form again changes nothing and writes no audit row.
    let audits = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'shop.update'")
        .await;
    assert_eq!(audits, 2);
    let a = admin
        .post(
            &path,
            &[
                ("name", "通用交易一店（改）"),
                ("merchant_id", "1201"),
                ("mode", "prod"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert!(follow(&admin, &a).await.contains("没有修改"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'shop.update'")
            .await,
        2
    );

    // Audit rows name the shop and the replaced secret, never a secret.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'shop.create'")
            .await,
        3
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'shop.update' AND detail LIKE '%更换 MD5 密钥%'"
        )
        .await,
        1
    );
    let details: Vec<Option<String>> = sqlx::query_scalar("SELECT detail FROM audit_log")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for d in details.into_iter().flatten() {
        assert_no_secret(&d, &ALL_SECRETS);
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_shop_input_is_refused_in_chinese() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    // AES key of 31 characters: refused, nothing stored, the typed secrets not echoed.
    let a = admin
        .post(
            "/admin/config/shops?platform=jd_general",
            &jd_general_form("坏店", "1201", "AESkey0123456789abcdefghijklmno"),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("AES 密钥必须正好 32 个字符（当前 31 个）"),
        "{}",
        a.body
    );
    assert_no_secret(&a.body, &[MD5_KEY, "AESkey0123456789abcdefghijklmno"]);
    assert!(a.body.contains("value=\"坏店\""), "non-secret fields kept");
    assert_eq!(app.count("SELECT COUNT(*) FROM shops").await, 0);

    // Bad allow-list entries.
    let mut f = jd_general_form("坏店", "1201", AES_KEY);
    f[5] = ("ip_allowlist", "1.2.3.4, 999.1.1.1");
    let a = admin
        .post("/admin/config/shops?platform=jd_general", &f)
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body
            .contains("IP 白名单中的「999.1.1.1」不是有效的 IP 地址或网段")
    );
    f[5] = ("ip_allowlist", "10.0.0.0/40");
    assert_eq!(
        admin
            .post("/admin/config/shops?platform=jd_general", &f)
            .await
            .status,
        400
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM shops").await, 0);

    // Missing secrets, a non-numeric vendorId, an unknown mode: every problem listed at once.
    let a = admin
        .post(
            "/admin/config/shops?platform=jd_general",
            &[("name", "x"), ("merchant_id", "12ab"), ("mode", "beta")],
        )
        .await;
    assert_eq!(a.status, 400);
    for m in [
        "请填写MD5 密钥",
        "请填写AES 密钥",
        "vendorId 应为数字",
        "请选择模式",
    ] {
        assert!(a.body.contains(m), "{m}");
    }
    // An unknown platform, a malformed body: Chinese messages, no 500.
    let a = admin
        .post(
            "/admin/config/shops?platform=pdd",
            &jd_general_form("x", "1", AES_KEY),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("请选择平台"));
    let a = admin
        .post_raw(
            "/admin/config/shops?platform=jd_general",
            &[("_csrf", admin.csrf.as_str()), ("name", "a"), ("name", "b")],
        )
        .await;
    assert_eq!(a.status, 400);

    // Good shop, then an edit with a bad allow-list and a short AES key: nothing changes.
    let a = admin
        .post(
            "/admin/config/shops?platform=jd_general",
            &jd_general_form("好店", "1201", AES_KEY),
        )
        .await;
    assert_eq!(a.status, 303);
    let before = shop_row(&app, "好店").await;
    let path = format!("/admin/config/shops/{}", before.id);
    let a = admin
        .post(
            &path,
            &[
                ("name", "好店"),
                ("merchant_id", "1201"),
                ("aes_key", "tooshort"),
                ("mode", "test"),
                ("ip_allowlist", "localhost"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("AES 密钥必须正好 32 个字符"));
    assert!(a.body.contains("「localhost」不是有效的 IP"));
    assert!(
        a.body.contains(&mask(MD5_KEY)),
        "current secrets shown masked"
    );
    let after = shop_row(&app, "好店").await;
    assert_eq!(after.ip_allowlist, before.ip_allowlist);
    assert_eq!(after.aes_key_enc, before.aes_key_enc);

    // The same vendorId twice on one platform: refused.
    let a = admin
        .post(
            "/admin/config/shops?platform=jd_general",
            &jd_general_form("另一店", "1201", AES_KEY),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("已被其他店铺使用"));
    // Unknown or malformed ids: 404.
    assert_eq!(admin.get("/admin/config/shops/999/edit").await.status, 404);
    assert_eq!(admin.get("/admin/config/shops/abc/edit").await.status, 404);
    assert_eq!(admin.post("/admin/config/shops/999", &[]).await.status, 404);
    app.stop().await;
}

async fn giving_up_orders(app: &App, shop: u64, n: usize) {
    for i in 0..n {
        StoredOrder::new(
            Platform::JdGeneral,
            shop,
            &format!("P{shop}G{i}"),
            common::domain::OrderKind::Card,
            OrderStatus::Succeeded,
        )
        .order_no(&format!("T{shop}G{i}"))
        .sku("S1")
        .gave_up(9, "超时")
        .insert(&app.pool)
        .await;
    }
    // Given up behind the admin's back (the notifier's doing): drop the counts it may hold.
    admin::web::shops::forget_giving_up(&app.pool);
}

#[tokio::test]
async fn roles_and_the_resend_of_given_up_callbacks() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    create_shops(&app, &admin).await;
    let g = shop_row(&app, "通用交易一店").await;
    let other = shop_row(&app, "点卡一店").await;
    giving_up_orders(&app, g.id, 2).await;
    giving_up_orders(&app, other.id, 1).await;
    let list = admin.get("/admin/config").await;
    assert!(
        list.body
            .contains("<span class=\"badge giving_up\">2</span>")
    );

    let viewer = app.login("viewer").await;
    let operator = app.login("operator").await;
    let edit = format!("/admin/config/shops/{}", g.id);
    let resend = format!("/admin/config/shops/{}/resend-giving-up", g.id);
    let create = "/admin/config/shops?platform=jd_general";
    let form = jd_general_form("不该有的店", "9999", AES_KEY);
    // Viewers: 403 on every write; operators: 403 on the admin-only ones.
    for (who, b) in [("viewer", &viewer), ("operator", &operator)] {
        assert_eq!(b.post(create, &form).await.status, 403, "{who}");
        assert_eq!(b.post(&edit, &form).await.status, 403, "{who}");
        assert_eq!(b.get(&format!("{edit}/edit")).await.status, 403, "{who}");
        assert_eq!(b.get(&format!("{edit}/test")).await.status, 403, "{who}");
        assert_eq!(
            b.get("/admin/config/shops/new?platform=jd_general")
                .await
                .status,
            403,
            "{who}"
        );
    }
    assert_eq!(viewer.post(&resend, &[]).await.status, 403);
    // Without the CSRF token: refused too.
    assert_eq!(operator.post_raw(&resend, &[]).await.status, 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM shops").await, 3);
    assert_eq!(
        shop_row(&app, "通用交易一店").await.name,
        "通用交易一店",
        "unchanged"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE notify_status = 'giving_up'")
            .await,
        3
    );

    // The operator resends: the shop's 2 orders, once.
    let a = operator.post(&resend, &[]).await;
    assert!(
        follow(&operator, &a)
            .await
            .contains("已重新安排店铺「通用交易一店」2 个订单的回调")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM orders WHERE shop_id = {} AND notify_status = 'pending'
               AND notify_attempts = 0 AND notify_next_at IS NOT NULL",
            g.id
        ))
        .await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM orders WHERE shop_id = {} AND notify_status = 'giving_up'",
            other.id
        ))
        .await,
        1,
        "other shops untouched"
    );
    let a = operator.post(&resend, &[]).await;
    assert!(follow(&operator, &a).await.contains("无需重发"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'shop.resend_giving_up' AND username = 'operator'"
        )
        .await,
        1
    );
    assert_eq!(
        operator
            .post("/admin/config/shops/77/resend-giving-up", &[])
            .await
            .status,
        404
    );

    // Saving a shop's keys offers the resend of its given-up callbacks (JD refused the old key).
    let game_edit = |key: &'static str, url: &'static str| {
        vec![
            ("name", "点卡一店"),
            ("merchant_id", "10817"),
            ("private_key", key),
            ("mode", "prod"),
            ("card_callback_url", url),
            ("enabled", "1"),
        ]
    };
    let edit_other = format!("/admin/config/shops/{}", other.id);
    // No key changed: no offer.
    let a = admin
        .post(
            &edit_other,
            &game_edit("", "https://jd.example/api/cardApi2.action"),
        )
        .await;
    assert_eq!(a.location.as_deref(), Some("/admin/config"), "{}", a.body);
    let a = admin
        .post(
            &edit_other,
            &game_edit(
                "fedcba9876543210fedcba9876543210",
                "https://jd.example/api/cardApi2.action",
            ),
        )
        .await;
    let offer = format!("/admin/config/shops/{}/resend-giving-up", other.id);
    assert_eq!(a.location.as_deref(), Some(offer.as_str()));
    let page = follow(&admin, &a).await;
    assert!(page.contains("已保存店铺「点卡一店」"), "{page}");
    assert!(page.contains("重发 1 个放弃的回调"), "{page}");
    assert!(page.contains(&format!("action=\"{offer}\"")), "{page}");
    let a = admin.post(&offer, &[]).await;
    assert!(
        follow(&admin, &a)
            .await
            .contains("已重新安排店铺「点卡一店」1 个订单的回调")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE notify_status = 'giving_up'")
            .await,
        0
    );
    // Nothing left to resend: saving keys again goes back to the list; the offer page says so.
    let a = admin
        .post(
            &edit_other,
            &game_edit(PRIVATE_KEY, "https://jd.example/api/cardApi2.action"),
        )
        .await;
    assert_eq!(a.location.as_deref(), Some("/admin/config"));
    assert!(admin.get(&offer).await.body.contains("无需重发"));
    assert_eq!(viewer.get(&offer).await.status, 403);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Self-test

/// 通用交易 (spec §2): fields except sign / signType / empty ones, sorted, `k` + `v` joined,
/// key appended, MD5.
fn jd_general_signing(pairs: &[(String, String)], key: &str) -> (String, String) {
    let mut v: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, v)| k != "sign" && k != "signType" && !v.is_empty())
        .collect();
    v.sort();
    let s: String = v.iter().map(|(k, v)| format!("{k}{v}")).collect::<String>() + key;
    let sign = common::crypto::md5_hex(s.as_bytes());
    (s, sign)
}

/// 游戏点卡 (spec §3): `k=v&…&` + key.
fn jd_game_signing(pairs: &[(String, String)], key: &str) -> (String, String) {
    let mut v: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    v.sort();
    let s: String = v
        .iter()
        .map(|(k, v)| format!("{k}={v}&"))
        .collect::<String>()
        + key;
    let sign = common::crypto::md5_hex(s.as_bytes());
    (s, sign)
}

fn form_pairs(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(body).expect("form body")
}

#[test]
fn independent_signing_matches_the_spec_vectors() {
    use common::protocol::vectors::{game, general, pairs};
    assert_eq!(
        jd_general_signing(&pairs(general::S1_FIELDS), general::K).1,
        general::S1_SIGN
    );
    let v2 = pairs(&[
        ("customerId", game::CUSTOMER_ID),
        ("data", game::V2_DATA),
        ("timestamp", game::V2_TIMESTAMP),
    ]);
    assert_eq!(jd_game_signing(&v2, game::K).1, game::V2_SIGN);
}

#[tokio::test]
async fn self_test_signs_jd_samples_exactly_as_the_spec_says() {
    let app = App::start_with(&[("PUBLIC_BASE_URL", "https://vg.example.com/")]).await;
    let admin = app.login("admin").await;
    create_shops(&app, &admin).await;
    let g = shop_row(&app, "通用交易一店").await;
    let page = admin
        .get(&format!("/admin/config/shops/{}/test", g.id))
        .await;
    assert_eq!(page.status, 200);
    assert_no_secret(&page.body, &ALL_SECRETS);
    assert!(page.body.contains("32 个字符，正确"));
    let bodies = values_after(&page.body, "表单内容");
    let strings = values_after(&page.body, "签名串（密钥已脱敏）");
    let signs = values_after(&page.body, "sign");
    let urls = values_after(&page.body, "请求地址");
    assert_eq!(bodies.len(), 2, "beginDistill and findDistill");
    assert_eq!(
        urls,
        vec![
            "https://vg.example.com/api/jd/general/beginDistill".to_owned(),
            "https://vg.example.com/api/jd/general/findDistill".to_owned()
        ]
    );
    for i in 0..2 {
        let pairs = form_pairs(&bodies[i]);
        let (string, sign) = jd_general_signing(&pairs, MD5_KEY);
        let sent = pairs
            .iter()
            .find(|(k, _)| k == "sign")
            .map(|(_, v)| v.clone());
        assert_eq!(sent.as_deref(), Some(sign.as_str()), "body's sign");
        assert_eq!(signs[i], sign, "shown sign");
        assert_eq!(strings[i], string.replace(MD5_KEY, &mask(MD5_KEY)));
        assert!(pairs.iter().any(|(k, v)| k == "vendorId" && v == "1201"));
        assert!(pairs.iter().any(|(k, v)| k == "signType" && v == "MD5"));
        // The codec the gateway verifies with accepts it.
        assert!(common::protocol::jd_general::verify_signed_fields(
            &pairs, MD5_KEY
        ));
    }

    let game = shop_row(&app, "点卡一店").await;
    let page = admin
        .get(&format!("/admin/config/shops/{}/test", game.id))
        .await;
    assert_eq!(page.status, 200);
    assert_no_secret(&page.body, &ALL_SECRETS);
    assert!(
        page.body.contains("https://jd.example/api/cardApi.action"),
        "override shown"
    );
    assert!(
        page.body.contains("https://card.jd.com/api/gameApi.action"),
        "prod default"
    );
    let bodies = values_after(&page.body, "表单内容");
    let strings = values_after(&page.body, "签名串（密钥已脱敏）");
    assert_eq!(bodies.len(), 2);
    for i in 0..2 {
        let pairs = form_pairs(&bodies[i]);
        let (string, sign) = jd_game_signing(&pairs, PRIVATE_KEY);
        assert!(pairs.iter().any(|(k, v)| k == "sign" && *v == sign));
        assert_eq!(strings[i], string.replace(PRIVATE_KEY, &mask(PRIVATE_KEY)));
        let data = pairs.iter().find(|(k, _)| k == "data").unwrap();
        let json = common::protocol::jd_game::decode_data(&data.1).unwrap();
        assert!(json.contains("\"orderId\""), "{json}");
    }
    app.stop().await;
}

/// A fake Agiso gateway: `POST /open/Bankroll/QueryDeposit` checks `ApiVersion`, the form and
/// the signature (spec §2: md5(secret + sorted k+v + secret)) and answers the balance.
/// One call the fake saw: the form, whether it was signed correctly, the Authorization header.
type AgisoCall = (Vec<(String, String)>, bool, Option<String>);

struct FakeAgiso {
    base: String,
    calls: Arc<Mutex<Vec<AgisoCall>>>,
}

async fn fake_agiso(secret: &'static str) -> FakeAgiso {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let calls: Arc<Mutex<Vec<AgisoCall>>> = Arc::default();
    let seen = calls.clone();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let mut signed: Vec<&(String, String)> =
                form.iter().filter(|(k, _)| k != "sign").collect();
            signed.sort();
            let s = format!(
                "{secret}{}{secret}",
                signed
                    .iter()
                    .map(|(k, v)| format!("{k}{v}"))
                    .collect::<String>()
            );
            let expected = common::crypto::md5_hex(s.as_bytes());
            let sent = form
                .iter()
                .find(|(k, _)| k == "sign")
                .map(|(_, v)| v.to_lowercase());
            let header_ok = headers.get("ApiVersion").and_then(|v| v.to_str().ok()) == Some("1")
                && headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let good = header_ok
                && sent.as_deref() == Some(expected.as_str())
                && form.iter().any(|(k, _)| k == "timestamp");
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            seen.lock().unwrap().push((form, good, auth));
            if good {
                r#"{"IsSuccess":true,"Data":88.66,"Error_Code":0,"Error_Msg":"","RequestId":"1"}"#
            } else {
                r#"{"IsSuccess":false,"Data":null,"Error_Code":4,"Error_Msg":"签名验证失败"}"#
            }
        }
    };
    let router =
        axum::Router::new().route("/open/Bankroll/QueryDeposit", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    FakeAgiso { base, calls }
}

#[tokio::test]
async fn agiso_self_test_queries_the_balance_of_the_shops_gateway() {
    let app = App::start().await;
    let fake = fake_agiso(APP_SECRET).await;
    let admin = app.login("admin").await;
    let a = admin
        .post(
            "/admin/config/shops?platform=agiso",
            &[
                ("name", "阿奇索店"),
                ("merchant_id", "app-1"),
                ("agiso_service", "alds"),
                ("app_secret", APP_SECRET),
                ("access_token", ACCESS_TOKEN),
                ("mode", "prod"),
                ("base_url", &format!("{}/", fake.base)),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let shop = shop_row(&app, "阿奇索店").await;
    assert_eq!(shop.base_url.as_deref(), Some(fake.base.as_str()));
    let test = format!("/admin/config/shops/{}/test", shop.id);
    let page = admin.get(&test).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("签名校验通过，开放平台余额：88.66 元"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("{}/open/Bankroll/QueryDeposit", fake.base))
    );
    assert_no_secret(&page.body, &ALL_SECRETS);
    assert!(page.body.contains(&mask(APP_SECRET)));
    {
        let calls = fake.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let (form, good, auth) = &calls[0];
        assert!(good, "the fake verified the signature: {form:?}");
        assert!(auth.is_none(), "no token sent for the balance query");
        let ts: i64 = form
            .iter()
            .find(|(k, _)| k == "timestamp")
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert!(
            (chrono::Utc::now().timestamp() - ts).abs() < 60,
            "unix seconds"
        );
    }

    // Another AppSecret: the fake refuses the signature; the page says so in Chinese.
    let a = admin
        .post(
            &format!("/admin/config/shops/{}", shop.id),
            &[
                ("name", "阿奇索店"),
                ("merchant_id", "app-1"),
                ("agiso_service", "alds"),
                ("app_secret", "another-secret-0123456789"),
                ("mode", "prod"),
                ("base_url", &fake.base),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 303);
    let page = admin.get(&test).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("阿奇索错误 4"), "{}", page.body);
    assert!(page.body.contains("签名验证失败"));
    assert_no_secret(&page.body, &["another-secret-0123456789", ACCESS_TOKEN]);
    assert!(!fake.calls.lock().unwrap()[1].1);

    // A gateway nobody answers at: a Chinese error, quickly.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    sqlx::query("UPDATE shops SET base_url = ? WHERE id = ?")
        .bind(format!("http://{dead}"))
        .bind(shop.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let page = admin.get(&test).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("无法连接阿奇索网关"), "{}", page.body);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// URL generator

const PATHS: [&str; 8] = [
    "/api/jd/general/beginDistill",
    "/api/jd/general/findDistill",
    "/api/jd/game/preCheck",
    "/api/jd/game/directCharge",
    "/api/jd/game/directQuery",
    "/api/jd/game/cardOrder",
    "/api/jd/game/cardQuery",
    "/api/agiso/push",
];

#[tokio::test]
async fn url_generator_shows_every_url_with_the_configured_base() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    create_shops(&app, &admin).await;
    let viewer = app.login("viewer").await;
    let page = viewer.get("/admin/urls").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("尚未设置公网地址"));
    assert!(page.body.contains("PUBLIC_BASE_URL"));
    for p in PATHS {
        assert!(page.body.contains(p), "{p}");
    }
    assert!(page.body.contains("通用交易一店") && page.body.contains("阿奇索一店"));
    assert!(page.body.contains("app-2024（aldsJd）"));

    // Only admins set the base; viewers and operators get 403 and nothing changes.
    for who in ["viewer", "operator"] {
        let b = app.login(who).await;
        let a = b
            .post("/admin/urls/base", &[("base_url", "https://evil.example")])
            .await;
        assert_eq!(a.status, 403, "{who}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM settings WHERE name = 'public_base_url'")
            .await,
        0
    );
    let a = admin
        .post("/admin/urls/base", &[("base_url", "vg.example.com")])
        .await;
    assert!(
        follow(&admin, &a)
            .await
            .contains("公网地址应以 http:// 或 https:// 开头")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM settings WHERE name = 'public_base_url'")
            .await,
        0
    );

    for _ in 0..2 {
        let a = admin
            .post(
                "/admin/urls/base",
                &[("base_url", "https://vg.example.com/shop/")],
            )
            .await;
        assert_eq!(a.status, 303);
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM settings WHERE name = 'public_base_url' AND value = 'https://vg.example.com/shop'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'setting.public_base_url'")
            .await,
        1,
        "the repeat changed nothing"
    );
    let page = viewer.get("/admin/urls").await;
    for p in PATHS {
        let url = format!("https://vg.example.com/shop{p}");
        assert!(page.body.contains(&format!("data-copy=\"{url}\"")), "{url}");
    }
    assert!(!page.body.contains("尚未设置公网地址"));
    // The self-test uses the same base for its sample URLs.
    let g = shop_row(&app, "通用交易一店").await;
    let t = admin
        .get(&format!("/admin/config/shops/{}/test", g.id))
        .await;
    assert!(
        t.body
            .contains("https://vg.example.com/shop/api/jd/general/findDistill")
    );

    // Cleared: back to the environment (unset here).
    let a = admin.post("/admin/urls/base", &[("base_url", "")]).await;
    assert!(follow(&admin, &a).await.contains("改用环境变量"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM settings WHERE name = 'public_base_url'")
            .await,
        0
    );
    app.stop().await;

    // From the environment.
    let app = App::start_with(&[("PUBLIC_BASE_URL", "https://env.example.com")]).await;
    let page = app.login("viewer").await.get("/admin/urls").await;
    assert!(page.body.contains("环境变量 PUBLIC_BASE_URL"));
    assert!(
        page.body
            .contains("https://env.example.com/api/jd/game/cardOrder")
    );
    app.stop().await;
}
