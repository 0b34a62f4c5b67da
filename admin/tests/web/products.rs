//! 商品管理: creating and editing products (yuan in, fen stored), bad numbers refused with a
//! message, SKU mappings (a platform SKU maps to one product: a duplicate gets a Chinese message
//! naming the other product), supplier links with priorities, enabling and disabling — each
//! audited once; operators and viewers refused on every write.

use common::db::products;
use common::db::suppliers;
use common::domain::{OrderStatus, Platform};
use common::testing::fixtures::{Shop, StoredOrder, Supplier};

use crate::{Answer, App, Browser, assert_no_secret};

const SUPPLIER_SECRET: &str = "SUPPLIER-SECRET-0123456789";

/// Follows a 303 and returns the page it leads to (with its flash).
async fn follow(b: &Browser, a: &Answer) -> String {
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get(a.location.as_deref().expect("redirect")).await;
    assert_eq!(page.status, 200);
    page.body
}

fn fields<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("name", "腾讯Q币10元"),
        ("mode", "card"),
        ("face_value", "10"),
        ("price", "9.80"),
        ("low_stock", "5"),
        ("policy", "wait"),
        ("wait_seconds", "600"),
        ("enabled", "1"),
    ];
    for (k, v) in overrides {
        f.retain(|(key, _)| key != k);
        if !v.is_empty() || *k != "enabled" {
            f.push((k, v));
        }
    }
    f
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Stored {
    name: String,
    mode: String,
    face_value_fen: Option<i64>,
    price_fen: Option<i64>,
    low_stock_threshold: Option<i32>,
    out_of_stock_policy: String,
    stock_wait_seconds: i32,
    enabled: bool,
}

async fn stored(app: &App, id: u64) -> Stored {
    sqlx::query_as(
        "SELECT name, mode, face_value_fen, price_fen, low_stock_threshold, out_of_stock_policy,
                stock_wait_seconds, enabled FROM products WHERE id = ?",
    )
    .bind(id)
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

/// Creates a product through the page; returns its id.
async fn create(b: &Browser, overrides: &[(&str, &str)]) -> u64 {
    let a = b.post("/admin/products", &fields(overrides)).await;
    assert_eq!(a.status, 303, "{}", a.body);
    a.location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn create_edit_and_list_products() {
    let app = App::start().await;
    let b = app.login("admin").await;
    let form = b.get("/admin/products/new").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("供应商直充"));
    assert!(form.body.contains("GATEWAY_CACHE_TTL_MS"));

    let a = b.post("/admin/products", &fields(&[])).await;
    let page = follow(&b, &a).await;
    assert!(page.contains("已创建商品"));
    assert!(
        page.contains("GATEWAY_CACHE_TTL_MS"),
        "the cache delay is said"
    );
    let id: u64 = a
        .location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        stored(&app, id).await,
        Stored {
            name: "腾讯Q币10元".into(),
            mode: "card".into(),
            face_value_fen: Some(1000),
            price_fen: Some(980),
            low_stock_threshold: Some(5),
            out_of_stock_policy: "wait".into(),
            stock_wait_seconds: 600,
            enabled: true,
        }
    );
    assert_eq!(audits(&app, "product.create").await, 1);

    // The same name again: refused, the form keeps what was typed.
    let dup = b
        .post("/admin/products", &fields(&[("price", "7.50")]))
        .await;
    assert_eq!(dup.status, 400);
    assert!(dup.body.contains("已存在"));
    assert!(dup.body.contains("value=\"7.50\""));
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, 1);

    let manual = create(
        &b,
        &[
            ("name", "话费人工充值"),
            ("mode", "direct_manual"),
            ("price", ""),
            ("low_stock", ""),
            ("face_value", "100.5"),
            ("enabled", ""),
        ],
    )
    .await;
    let m = stored(&app, manual).await;
    assert_eq!(
        (
            m.mode.as_str(),
            m.price_fen,
            m.face_value_fen,
            m.low_stock_threshold,
            m.enabled
        ),
        ("direct_manual", None, Some(10050), None, false)
    );

    let list = b.get("/admin/products").await;
    assert_eq!(list.status, 200);
    for text in [
        "腾讯Q币10元",
        "9.80",
        "10.00",
        "卡密",
        "人工直充",
        "100.50",
        "未设置（不接单）",
        "停用",
        "等待补货 600 秒",
        "未映射",
    ] {
        assert!(list.body.contains(text), "{text}");
    }
    assert!(list.body.contains("GATEWAY_CACHE_TTL_MS"));

    // Edit: the page shows the stored values in yuan; saving changes them, audited once.
    let edit = b.get(&format!("/admin/products/{id}")).await;
    assert_eq!(edit.status, 200);
    assert!(edit.body.contains("value=\"9.80\""));
    assert!(edit.body.contains("value=\"10.00\""));
    let changed = fields(&[
        ("name", "腾讯Q币10元（新）"),
        ("price", "8.00"),
        ("policy", "fail"),
        ("low_stock", "0"),
    ]);
    let a = b.post(&format!("/admin/products/{id}"), &changed).await;
    let page = follow(&b, &a).await;
    assert!(page.contains("已保存"));
    let s = stored(&app, id).await;
    assert_eq!(
        (
            s.name.as_str(),
            s.price_fen,
            s.out_of_stock_policy.as_str(),
            s.low_stock_threshold
        ),
        ("腾讯Q币10元（新）", Some(800), "fail", Some(0))
    );
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'product.update' AND target_id = ?",
    )
    .bind(id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(detail.contains("单价: 9.80 → 8.00"), "{detail}");
    assert!(detail.contains("低库存预警: 5 → 0"), "{detail}");
    // Saving the same values again: nothing changes, no second audit row.
    let a = b.post(&format!("/admin/products/{id}"), &changed).await;
    assert!(follow(&b, &a).await.contains("没有修改"));
    assert_eq!(audits(&app, "product.update").await, 1);
    // Renaming onto another product's name is refused.
    let a = b
        .post(
            &format!("/admin/products/{id}"),
            &fields(&[("name", "话费人工充值")]),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("已被其他商品使用"));
    assert_eq!(stored(&app, id).await.name, "腾讯Q币10元（新）");
    // A changed threshold re-arms the low-stock alert.
    sqlx::query("UPDATE products SET low_stock_alerted = 1 WHERE id = ?")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let a = b
        .post(
            &format!("/admin/products/{id}"),
            &fields(&[("name", "腾讯Q币10元（新）"), ("low_stock", "20")]),
        )
        .await;
    follow(&b, &a).await;
    assert_eq!(
        app.count(&format!(
            "SELECT CAST(low_stock_alerted AS SIGNED) FROM products WHERE id = {id}"
        ))
        .await,
        0
    );
    assert_eq!(b.get("/admin/products/999999").await.status, 404);
    assert_eq!(b.get("/admin/products/abc").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn bad_numbers_are_refused_with_a_message() {
    let app = App::start().await;
    let b = app.login("admin").await;
    let id = create(&b, &[]).await;
    let before = stored(&app, id).await;
    for (field, value, message) in [
        ("face_value", "-1", "面值必须是不小于 0 的金额"),
        ("face_value", "ten", "面值必须是不小于 0 的金额"),
        ("price", "9.801", "单价必须是不小于 0 的金额"),
        ("price", "1e3", "单价必须是不小于 0 的金额"),
        ("price", "2000000", "单价不能超过 1,000,000 元"),
        ("low_stock", "-5", "低库存预警值必须是 0 到"),
        ("low_stock", "2.5", "低库存预警值必须是 0 到"),
        ("wait_seconds", "0", "等待补货时长必须是 1 到"),
        ("wait_seconds", "abc", "等待补货时长必须是 1 到"),
        (
            "wait_seconds",
            "99999999999999999999",
            "等待补货时长必须是 1 到",
        ),
        ("mode", "magic", "请选择履约方式"),
        ("policy", "", "请选择缺货策略"),
        ("name", "  ", "请填写商品名称"),
    ] {
        let a = b
            .post(
                "/admin/products",
                &fields(&[("name", "新商品"), (field, value)]),
            )
            .await;
        assert_eq!(a.status, 400, "{field}={value}");
        assert!(a.body.contains(message), "{field}={value}: {}", a.body);
        let a = b
            .post(&format!("/admin/products/{id}"), &fields(&[(field, value)]))
            .await;
        assert_eq!(a.status, 400, "update {field}={value}");
        assert!(a.body.contains(message), "update {field}={value}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, 1);
    assert_eq!(stored(&app, id).await, before);
    assert_eq!(audits(&app, "product.update").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn sku_mappings_are_unique_per_platform() {
    let app = App::start().await;
    let b = app.login("admin").await;
    let p1 = create(&b, &[("name", "商品一")]).await;
    let p2 = create(&b, &[("name", "商品二")]).await;
    let add = |p: u64, platform: &'static str, sku: &'static str| {
        let b = &b;
        async move {
            let a = b
                .post(
                    &format!("/admin/products/{p}/skus"),
                    &[("platform", platform), ("sku", sku)],
                )
                .await;
            follow(b, &a).await
        }
    };
    assert!(add(p1, "jd_general", "45001").await.contains("已添加"));
    assert!(
        add(p1, "jd_game", "45001").await.contains("已添加"),
        "other platform"
    );
    let page = add(p2, "jd_general", "45001").await;
    assert!(
        page.contains("京东通用交易 SKU「45001」已对应商品「商品一」"),
        "{page}"
    );
    assert!(
        add(p1, "jd_general", "45001")
            .await
            .contains("已在本商品中")
    );
    assert!(add(p2, "agiso", " AG-9 ").await.contains("已添加"));
    assert!(add(p2, "nowhere", "1").await.contains("请选择平台"));
    assert!(add(p2, "jd_game", "").await.contains("SKU 不能为空"));
    let long: &'static str = Box::leak("9".repeat(65).into_boxed_str());
    assert!(add(p2, "jd_game", long).await.contains("最多 64 个字符"));
    assert_eq!(app.count("SELECT COUNT(*) FROM product_skus").await, 3);
    assert_eq!(audits(&app, "product.sku_add").await, 3);
    // The gateway's lookup sees the mappings.
    let found = products::find_by_sku(&app.pool, Platform::JdGeneral, "45001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, p1);
    let found = products::find_by_sku(&app.pool, Platform::Agiso, "AG-9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, p2);

    let page = b.get(&format!("/admin/products/{p1}")).await;
    assert!(page.body.contains("京东通用交易"));
    assert!(page.body.contains("45001"));
    let list = b.get("/admin/products").await;
    assert!(list.body.contains("京东游戏点卡：45001"));

    // Removing, twice: removed once, audited once; then p2 may take the SKU.
    let sku_id: u64 = sqlx::query_scalar(
        "SELECT id FROM product_skus WHERE platform = 'jd_general' AND sku = '45001'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let path = format!("/admin/products/{p1}/skus/{sku_id}/delete");
    assert!(
        follow(&b, &b.post(&path, &[]).await)
            .await
            .contains("已删除")
    );
    assert!(
        follow(&b, &b.post(&path, &[]).await)
            .await
            .contains("已删除")
    );
    assert_eq!(audits(&app, "product.sku_remove").await, 1);
    // Another product's mapping cannot be removed through this product.
    let agiso_id: u64 = sqlx::query_scalar("SELECT id FROM product_skus WHERE platform = 'agiso'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    b.post(&format!("/admin/products/{p1}/skus/{agiso_id}/delete"), &[])
        .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM product_skus").await, 2);
    assert!(add(p2, "jd_general", "45001").await.contains("已添加"));
    app.stop().await;
}

#[tokio::test]
async fn supplier_links_with_priorities() {
    let app = App::start().await;
    let mut ids = Vec::new();
    for name in ["上游甲", "上游乙"] {
        let new = Supplier::new(name, "http://127.0.0.1:9", "M1", SUPPLIER_SECRET);
        ids.push(new.insert(&app.pool).await);
    }
    let b = app.login("admin").await;
    let p = create(&b, &[("name", "话费直充"), ("mode", "direct_supplier")]).await;
    let link = |supplier: u64, priority: &'static str, sku: &'static str| {
        let b = &b;
        async move {
            let s = supplier.to_string();
            let a = b
                .post(
                    &format!("/admin/products/{p}/suppliers"),
                    &[
                        ("supplier", s.as_str()),
                        ("priority", priority),
                        ("supplier_sku", sku),
                    ],
                )
                .await;
            follow(b, &a).await
        }
    };
    assert!(
        link(ids[0], "10", "UP-A-100")
            .await
            .contains("已关联供应商「上游甲」")
    );
    assert!(
        link(ids[1], "20", "UP-B-100")
            .await
            .contains("已关联供应商「上游乙」")
    );
    let tried: Vec<(u64, i32, String)> = suppliers::for_product(&app.pool, p)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.supplier_id, l.priority, l.supplier_sku))
        .collect();
    assert_eq!(
        tried,
        vec![
            (ids[0], 10, "UP-A-100".into()),
            (ids[1], 20, "UP-B-100".into())
        ]
    );
    // Change the priority: 乙 first now.
    assert!(link(ids[1], "5", "UP-B-200").await.contains("已更新"));
    assert!(link(ids[1], "5", "UP-B-200").await.contains("没有修改"));
    let first = suppliers::for_product(&app.pool, p).await.unwrap()[0].clone();
    assert_eq!(
        (
            first.supplier_id,
            first.priority,
            first.supplier_sku.as_str()
        ),
        (ids[1], 5, "UP-B-200")
    );
    // Bad input.
    assert!(link(ids[0], "-1", "X").await.contains("优先级必须是 0 到"));
    assert!(link(ids[0], "abc", "X").await.contains("优先级必须是 0 到"));
    assert!(link(ids[0], "1", "").await.contains("请填写供应商 SKU"));
    assert!(link(999_999, "1", "X").await.contains("供应商不存在"));
    assert_eq!(audits(&app, "product.link_supplier").await, 3);

    let page = b.get(&format!("/admin/products/{p}")).await;
    assert_eq!(page.status, 200);
    let (a_at, b_at) = (
        page.body.find("上游甲").unwrap(),
        page.body.find("上游乙").unwrap(),
    );
    assert!(b_at < a_at, "listed in the order they are tried");
    assert_no_secret(&page.body, &[SUPPLIER_SECRET]);

    let path = format!("/admin/products/{p}/suppliers/{}/delete", ids[0]);
    assert!(
        follow(&b, &b.post(&path, &[]).await)
            .await
            .contains("已取消关联")
    );
    assert!(
        follow(&b, &b.post(&path, &[]).await)
            .await
            .contains("已不再关联")
    );
    assert_eq!(audits(&app, "product.unlink_supplier").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM product_suppliers").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn enable_and_disable_once() {
    let app = App::start().await;
    let b = app.login("admin").await;
    let p = create(&b, &[]).await;
    let path = format!("/admin/products/{p}/enabled");
    let page = follow(&b, &b.post(&path, &[("enabled", "0")]).await).await;
    assert!(page.contains("商品已停用"));
    assert!(page.contains("GATEWAY_CACHE_TTL_MS"));
    assert!(!stored(&app, p).await.enabled);
    let page = follow(&b, &b.post(&path, &[("enabled", "0")]).await).await;
    assert!(page.contains("已是停用状态"));
    assert_eq!(audits(&app, "product.disable").await, 1);
    let page = follow(&b, &b.post(&path, &[("enabled", "yes")]).await).await;
    assert!(page.contains("请求无效"));
    assert!(!stored(&app, p).await.enabled);
    follow(&b, &b.post(&path, &[("enabled", "1")]).await).await;
    assert!(stored(&app, p).await.enabled);
    assert_eq!(audits(&app, "product.enable").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn only_admins_write_products() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    let p = create(&admin, &[]).await;
    follow(
        &admin,
        &admin
            .post(
                &format!("/admin/products/{p}/skus"),
                &[("platform", "jd_game"), ("sku", "777")],
            )
            .await,
    )
    .await;
    let sku_id: u64 = sqlx::query_scalar("SELECT id FROM product_skus")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let supplier = Supplier::new("上游", "http://127.0.0.1:9", "M1", SUPPLIER_SECRET)
        .insert(&app.pool)
        .await;
    suppliers::link_product(&app.pool, p, supplier, 1, "S1")
        .await
        .unwrap();
    let before = stored(&app, p).await;
    let audit_rows = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action NOT LIKE 'login%'")
        .await;

    for role in ["viewer", "operator"] {
        let b = app.login(role).await;
        assert_eq!(b.get("/admin/products").await.status, 200);
        let page = b.get(&format!("/admin/products/{p}")).await;
        assert_eq!(page.status, 200, "{role} reads");
        assert!(
            !page
                .body
                .contains(&format!("action=\"/admin/products/{p}/skus\""))
        );
        assert!(page.body.contains("只有管理员可以修改商品"));
        assert_eq!(b.get("/admin/products/new").await.status, 403);
        let name = fields(&[("name", "越权商品")]);
        for (path, form) in [
            ("/admin/products".to_owned(), name.clone()),
            (format!("/admin/products/{p}"), name.clone()),
            (
                format!("/admin/products/{p}/enabled"),
                vec![("enabled", "0")],
            ),
            (
                format!("/admin/products/{p}/skus"),
                vec![("platform", "jd_game"), ("sku", "888")],
            ),
            (format!("/admin/products/{p}/skus/{sku_id}/delete"), vec![]),
            (
                format!("/admin/products/{p}/suppliers"),
                vec![("supplier", "1"), ("priority", "9"), ("supplier_sku", "S2")],
            ),
            (
                format!("/admin/products/{p}/suppliers/{supplier}/delete"),
                vec![],
            ),
        ] {
            let a = b.post(&path, &form).await;
            assert_eq!(a.status, 403, "{role} {path}");
        }
    }
    assert_eq!(stored(&app, p).await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM product_skus").await, 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM product_suppliers WHERE priority = 1 AND supplier_sku = 'S1'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action NOT LIKE 'login%'")
            .await,
        audit_rows
    );
    app.stop().await;
}

/// An open order keeps its product on its side of card / direct: switching the mode between
/// card and direct is refused (with the reason, in Chinese) while the product has orders that
/// are not final; between the two direct modes, and once the orders are final, it is allowed.
#[tokio::test]
async fn mode_switch_between_card_and_direct_waits_for_open_orders() {
    let app = App::start().await;
    let b = app.login("admin").await;
    let p = create(&b, &[("mode", "card")]).await;
    let shop = Shop::jd_game("m", "77").insert(&app.pool).await;
    let order = StoredOrder::new(
        Platform::JdGame,
        shop,
        "M1",
        common::domain::OrderKind::Card,
        OrderStatus::AwaitingStock,
    )
    .product(p)
    .total_fen(980)
    .insert(&app.pool)
    .await;
    let path = format!("/admin/products/{p}");
    for mode in ["direct_manual", "direct_supplier"] {
        let a = b.post(&path, &fields(&[("mode", mode)])).await;
        assert_eq!(a.status, 400, "{mode}: {}", a.body);
        assert!(
            a.body.contains("该商品还有 1 笔未完结的订单")
                && a.body.contains("不能在卡密和直充之间切换履约方式"),
            "{}",
            a.body
        );
        assert_eq!(stored(&app, p).await.mode, "card");
    }
    // Other settings still save.
    follow(&b, &b.post(&path, &fields(&[("price", "9.90")])).await).await;
    assert_eq!(stored(&app, p).await.price_fen, Some(990));
    // Once the order is final, the switch goes through.
    sqlx::query("UPDATE orders SET status = 'failed' WHERE id = ?")
        .bind(order)
        .execute(&app.pool)
        .await
        .unwrap();
    follow(
        &b,
        &b.post(&path, &fields(&[("mode", "direct_manual")])).await,
    )
    .await;
    assert_eq!(stored(&app, p).await.mode, "direct_manual");
    // Between the direct modes, open orders do not matter (they stay direct orders).
    sqlx::query("UPDATE orders SET status = 'awaiting_manual', order_kind = 'direct' WHERE id = ?")
        .bind(order)
        .execute(&app.pool)
        .await
        .unwrap();
    follow(
        &b,
        &b.post(&path, &fields(&[("mode", "direct_supplier")])).await,
    )
    .await;
    assert_eq!(stored(&app, p).await.mode, "direct_supplier");
    let a = b.post(&path, &fields(&[("mode", "card")])).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(audits(&app, "product.update").await, 3);
    app.stop().await;
}

/// An enabled product has a price above zero: the form refuses to create or save one without,
/// and enabling a product that has none is refused; a disabled product may stay unpriced.
#[tokio::test]
async fn an_enabled_product_needs_a_price() {
    let app = App::start().await;
    let b = app.login("admin").await;
    for price in ["", "0", "0.00"] {
        let a = b
            .post("/admin/products", &fields(&[("price", price)]))
            .await;
        assert_eq!(a.status, 400, "price {price:?}: {}", a.body);
        assert!(
            a.body.contains("启用的商品必须设置大于 0 的单价"),
            "{}",
            a.body
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, 0);
    let p = create(&b, &[("price", ""), ("enabled", "")]).await;
    assert_eq!(stored(&app, p).await.price_fen, None);
    assert!(!stored(&app, p).await.enabled);
    let a = b
        .post(&format!("/admin/products/{p}"), &fields(&[("price", "")]))
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("启用的商品必须设置大于 0 的单价"));
    let page = follow(
        &b,
        &b.post(&format!("/admin/products/{p}/enabled"), &[("enabled", "1")])
            .await,
    )
    .await;
    assert!(page.contains("启用的商品必须设置大于 0 的单价"), "{page}");
    assert!(!stored(&app, p).await.enabled);
    assert_eq!(audits(&app, "product.enable").await, 0);
    // With a price it can be enabled.
    follow(
        &b,
        &b.post(
            &format!("/admin/products/{p}"),
            &fields(&[("price", "1.50"), ("enabled", "")]),
        )
        .await,
    )
    .await;
    follow(
        &b,
        &b.post(&format!("/admin/products/{p}/enabled"), &[("enabled", "1")])
            .await,
    )
    .await;
    assert!(stored(&app, p).await.enabled);
    app.stop().await;
}
