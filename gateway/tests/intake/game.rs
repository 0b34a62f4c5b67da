//! JD 游戏点卡: preCheck, directCharge, directQuery, cardOrder, cardQuery.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::domain::FailureReason;
use common::protocol::jd_game::{self as proto, GameAnswer, RetCode};
use common::protocol::vectors::game as vectors;
use common::testing::fixtures::{self, Product};

use crate::{App, GAME_KEY, fail_order, notes_starting, order_id, succeed_with_cards};

const CUSTOMER: &str = vectors::CUSTOMER_ID;

/// A signed 游戏点卡 request whose `data` is base64 of `data_bytes`.
fn request_bytes(data_bytes: &[u8], timestamp: &str) -> Vec<(String, String)> {
    let data = B64.encode(data_bytes);
    let mut params = vec![
        ("customerId".to_string(), CUSTOMER.to_string()),
        ("data".to_string(), data),
        ("timestamp".to_string(), timestamp.to_string()),
    ];
    let sign = proto::sign(&params, GAME_KEY);
    params.push(("sign".into(), sign));
    params
}

fn request(json: &str) -> Vec<(String, String)> {
    request_bytes(json.as_bytes(), "20240101120000")
}

async fn call(app: &App, endpoint: &str, params: &[(String, String)]) -> GameAnswer {
    let (status, body) = app
        .post_form(&format!("/api/jd/game/{endpoint}"), params)
        .await;
    assert_eq!(status, 200);
    GameAnswer::parse(&body)
        .unwrap_or_else(|| panic!("not an answer: {}", String::from_utf8_lossy(&body)))
}

fn data_json(a: &GameAnswer) -> serde_json::Value {
    let raw = B64.decode(a.data.as_deref().expect("data")).unwrap();
    serde_json::from_slice(&raw).unwrap()
}

async fn add_cards(app: &App, sku_product: &str, n: usize) {
    let pid: u64 = sqlx::query_scalar("SELECT id FROM products WHERE name = ?")
        .bind(sku_product)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let text: String = (0..n).map(|i| format!("C{i:04},P{i:04}\n")).collect();
    fixtures::import_cards(&app.pool, pid, "B1", &text).await;
}

#[tokio::test]
async fn direct_charge_doc_vector_is_accepted_and_queried() {
    let app = App::start().await;
    // Spec V2: the exact data and sign.
    let params = request_bytes(vectors::V2_JSON.as_bytes(), vectors::V2_TIMESTAMP);
    assert_eq!(params[1].1, vectors::V2_DATA);
    assert_eq!(params[3].1, vectors::V2_SIGN);
    let a = call(&app, "directCharge", &params).await;
    assert_eq!(a.ret_code, RetCode::Success, "{a:?}");
    let row: (String, i64, Option<String>, String) = sqlx::query_as(
        "SELECT order_kind, total_price_fen, recharge_account, platform FROM orders",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "direct".into(),
            980,
            Some("测试账号01".into()),
            "jd_game".into()
        )
    );

    // Same content again: 100, nothing new. Conflicting content: 102, nothing new.
    assert_eq!(
        call(&app, "directCharge", &params).await.ret_code,
        RetCode::Success
    );
    let conflicting = vectors::V2_JSON.replace("测试账号01", "别的账号");
    assert_eq!(
        call(&app, "directCharge", &request(&conflicting))
            .await
            .ret_code,
        RetCode::DuplicateOrder
    );
    assert_eq!(app.count("orders").await, 1);
    let msgs = app.created_messages().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1["platform"], "jd_game");

    let q = request(r#"{"orderId":301189718928}"#);
    let a = call(&app, "directQuery", &q).await;
    assert_eq!(
        (a.ret_code, data_json(&a)["orderStatus"].as_i64()),
        (RetCode::Success, Some(1))
    );
    // The doc's stray space inside the key is tolerated.
    let a = call(
        &app,
        "directQuery",
        &request(r#"{"orderId ":"301189718928"}"#),
    )
    .await;
    assert_eq!(a.ret_code, RetCode::Success);

    let id = order_id(&app.pool, "301189718928").await;
    succeed_with_cards(&app.pool, id, &[]).await;
    let a = call(&app, "directQuery", &q).await;
    assert_eq!(data_json(&a)["orderStatus"].as_i64(), Some(0));

    // Unknown order: 101.
    assert_eq!(
        call(&app, "directQuery", &request(r#"{"orderId":"1"}"#))
            .await
            .ret_code,
        RetCode::OrderNotFound
    );
    app.stop().await;
}

#[tokio::test]
async fn card_order_and_query_return_the_cards() {
    let app = App::start().await;
    let order = r#"{"orderId":"301189718929","buyNum":2,"skuId":"20001","brandId":"1","totalPrice":"100.00","sourceType":0}"#;
    let a = call(&app, "cardOrder", &request(order)).await;
    assert_eq!(
        (a.ret_code, a.data.as_deref()),
        (RetCode::Success, None),
        "asynchronous: no data"
    );
    let q = request(r#"{"orderId":"301189718929"}"#);
    let a = call(&app, "cardQuery", &q).await;
    assert_eq!(data_json(&a)["orderStatus"].as_i64(), Some(1));

    let id = order_id(&app.pool, "301189718929").await;
    succeed_with_cards(
        &app.pool,
        id,
        &[
            (
                "DXFD-XCV-000000814",
                "193-4343-32322814",
                Some("2026-12-31"),
            ),
            ("C2", "P2", None),
        ],
    )
    .await;
    let a = call(&app, "cardQuery", &q).await;
    assert_eq!(a.ret_message, "充值成功");
    let d = data_json(&a);
    assert_eq!(d["orderStatus"], "0");
    assert_eq!(
        d["cardinfos"][0],
        serde_json::json!({"cardno":"DXFD-XCV-000000814","cardpass":"193-4343-32322814","expiretime":"2026-12-31"})
    );
    assert_eq!(d["cardinfos"].as_array().unwrap().len(), 2);
    // A repeated cardOrder after success hands over the same cards synchronously.
    let again = call(&app, "cardOrder", &request(order)).await;
    assert_eq!(data_json(&again)["cardinfos"], d["cardinfos"]);

    // A failed order: a non-retry code with the reason.
    call(
        &app,
        "cardOrder",
        &request(&order.replace("301189718929", "301189718930")),
    )
    .await;
    fail_order(
        &app.pool,
        order_id(&app.pool, "301189718930").await,
        FailureReason::OutOfStock,
    )
    .await;
    let a = call(&app, "cardQuery", &request(r#"{"orderId":"301189718930"}"#)).await;
    assert_eq!(
        (a.ret_code, a.ret_message.as_str()),
        (RetCode::BrandOrderFailed, "库存不足")
    );
    assert!(!a.ret_code.is_retry());
    app.stop().await;
}

#[tokio::test]
async fn ten_concurrent_card_orders_make_one_order() {
    let app = App::start().await;
    let req = request(r#"{"orderId":"555","buyNum":1,"skuId":"20001","totalPrice":50}"#);
    let answers =
        futures_util::future::join_all((0..10).map(|_| call(&app, "cardOrder", &req))).await;
    assert!(
        answers
            .iter()
            .all(|a| *a == answers[0] && a.ret_code == RetCode::Success),
        "{answers:?}"
    );
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.created_messages().await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn pre_check_reads_products_and_live_stock() {
    let app = App::start().await;
    let check = |sku: &str, n: u32, price: &str| {
        request(&format!(
            r#"{{"pin":"p","buyNum":"{n}","skuId":"{sku}","brandId":"1","userIp":"1.1.1.1","totalPrice":"{price}"}}"#
        ))
    };
    assert_eq!(
        call(&app, "preCheck", &check("20001", 2, "100"))
            .await
            .ret_code,
        RetCode::OutOfStock
    );
    add_cards(&app, "点卡50", 2).await;
    let a = call(&app, "preCheck", &check("20001", 2, "100")).await;
    assert_eq!(a.ret_code, RetCode::Success);
    assert_eq!(data_json(&a)["status"], "0");
    assert_eq!(
        call(&app, "preCheck", &check("20001", 3, "150"))
            .await
            .ret_code,
        RetCode::OutOfStock
    );
    assert_eq!(
        call(&app, "preCheck", &check("77777", 1, "1"))
            .await
            .ret_code,
        RetCode::NoSuchProduct
    );
    assert_eq!(
        call(&app, "preCheck", &check("20009", 1, "1"))
            .await
            .ret_code,
        RetCode::NotForSale
    );
    // 游戏直充 costs 9.80 a unit: 2 units must be 19.60.
    assert_eq!(
        call(&app, "preCheck", &check("10022039398", 2, "19.60"))
            .await
            .ret_code,
        RetCode::Success
    );
    assert_eq!(
        call(&app, "preCheck", &check("10022039398", 2, "19.61"))
            .await
            .ret_code,
        RetCode::PriceMismatch
    );
    assert_eq!(
        app.count("orders").await,
        0,
        "preCheck never creates orders"
    );
    app.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_protocol_errors_and_store_nothing() {
    let app = App::start().await;
    let good = r#"{"orderId":"9","buyNum":1,"skuId":"20001","totalPrice":50}"#;

    let mut bad_sign = request(good);
    bad_sign[3].1 = "0".repeat(32);
    assert_eq!(
        call(&app, "cardOrder", &bad_sign).await.ret_code,
        RetCode::SignFailed
    );

    let mut unknown = request(good);
    unknown[0].1 = "4242".into();
    let a = call(&app, "cardOrder", &unknown).await;
    assert_eq!(
        a.ret_code,
        RetCode::SystemError,
        "unknown customerId: a retry code, no refund"
    );

    // A customerId longer than any shop's: refused as a bad parameter before any lookup.
    let mut huge = request(good);
    huge[0].1 = "7".repeat(10_000);
    let a = call(&app, "cardOrder", &huge).await;
    assert_eq!(a.ret_code, RetCode::InvalidParams);
    // A duplicated parameter with an outsider's name is never echoed raw.
    let mut dup = request(good);
    let evil = "<b>x</b>".to_string();
    dup.push((evil.clone(), "1".into()));
    dup.push((evil.clone(), "2".into()));
    let (_, body) = app.post_form("/api/jd/game/cardOrder", &dup).await;
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains(&evil) && !text.contains("<b>"), "{text}");
    assert_eq!(
        GameAnswer::parse(&body).unwrap().ret_code,
        RetCode::InvalidParams
    );

    // data that is not base64 / not JSON / truncated JSON, each correctly signed.
    for data in [
        "%%%not-base64%%%",
        &B64.encode("not json"),
        &B64.encode(&good[..20]),
    ] {
        let mut p = vec![
            ("customerId".to_string(), CUSTOMER.to_string()),
            ("data".to_string(), data.to_string()),
            ("timestamp".to_string(), "20240101120000".to_string()),
        ];
        let s = proto::sign(&p, GAME_KEY);
        p.push(("sign".into(), s));
        assert_eq!(
            call(&app, "cardOrder", &p).await.ret_code,
            RetCode::InvalidParams,
            "{data}"
        );
    }
    // Missing fields.
    assert_eq!(
        call(&app, "cardOrder", &request(r#"{"orderId":"9"}"#))
            .await
            .ret_code,
        RetCode::InvalidParams
    );
    // A result query that cannot be read never answers a refund code (every non-[R] code but
    // 100 makes JD refund): it answers 999 and JD asks again.
    for endpoint in ["directQuery", "cardQuery"] {
        for req in [
            request(r#"{"buyNum":1}"#),
            request(r#"{"orderId":"not-a-number"}"#),
            huge.clone(),
        ] {
            let a = call(&app, endpoint, &req).await;
            assert_eq!(a.ret_code, RetCode::SystemError, "{endpoint}: {a:?}");
            assert!(a.ret_code.is_retry());
        }
    }
    let no_sign: Vec<_> = request(good)
        .into_iter()
        .filter(|(k, _)| k != "sign")
        .collect();
    assert_eq!(
        call(&app, "cardOrder", &no_sign).await.ret_code,
        RetCode::SignFailed
    );
    // Money must be exact: a third decimal is refused, not rounded.
    assert_eq!(
        call(
            &app,
            "cardOrder",
            &request(&good.replace("50", "\"50.001\""))
        )
        .await
        .ret_code,
        RetCode::InvalidParams
    );
    // Oversized and garbage bodies: JSON answers with HTTP 200.
    for body in [vec![b'x'; 70 * 1024], b"\xff\xfe".to_vec()] {
        let (status, raw) = app
            .post_raw(
                "/api/jd/game/cardOrder",
                body,
                "application/x-www-form-urlencoded",
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            GameAnswer::parse(&raw).unwrap().ret_code,
            RetCode::InvalidParams
        );
    }
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("outbox").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn tolerant_parsing_gbk_plus_as_space_json_body_query_string() {
    let app = App::start().await;
    // GBK-encoded data (the fallback) with a Chinese account.
    let json = r#"{"orderId":"71","buyNum":"1","skuId":"10022039398","totalPrice":9.8,"gameAccount":"账号甲"}"#;
    let (gbk, _, _) = encoding_rs::GBK.encode(json);
    assert_eq!(
        call(&app, "directCharge", &request_bytes(&gbk, "20240101120000"))
            .await
            .ret_code,
        RetCode::Success
    );
    let account: String =
        sqlx::query_scalar("SELECT recharge_account FROM orders WHERE platform_order_no = '71'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(account, "账号甲");

    // A `+` in the base64 that arrives as a space (an unencoded form body).
    let mut found = None;
    for i in 0..200 {
        let json = format!(
            r#"{{"orderId":"{}","buyNum":"1","skuId":"10022039398","totalPrice":"9.80","gameAccount":"q{i}>>?"}}"#,
            7200 + i
        );
        if B64.encode(json.as_bytes()).contains('+') {
            found = Some(json);
            break;
        }
    }
    let json = found.expect("a payload whose base64 has a '+'");
    let params = request(&json);
    let raw_body = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let (_, body) = app
        .post_raw(
            "/api/jd/game/directCharge",
            raw_body.into_bytes(),
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(GameAnswer::parse(&body).unwrap().ret_code, RetCode::Success);

    // Pretty-printed JSON with numbers as strings, sent as a JSON body.
    let pretty = "{\n    \"orderId\": \"72\",\n    \"buyNum\": \"1\",\n    \"skuId\": \"10022039398\",\n    \"totalPrice\": \"9.80\",\n    \"gameAccount\": \"abc\"\n}";
    let p = request(pretty);
    let json_body: serde_json::Map<String, serde_json::Value> = p
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let (_, body) = app
        .post_raw(
            "/api/jd/game/directCharge",
            serde_json::to_vec(&json_body).unwrap(),
            "application/json",
        )
        .await;
    assert_eq!(GameAnswer::parse(&body).unwrap().ret_code, RetCode::Success);

    // Parameters in the query string.
    let p = request(r#"{"orderId":"72"}"#);
    let qs = common::protocol::form::encode_form(&p);
    let r = app
        .client
        .post(format!("{}/api/jd/game/directQuery?{qs}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        GameAnswer::parse(&r.bytes().await.unwrap())
            .unwrap()
            .ret_code,
        RetCode::Success
    );
    assert_eq!(app.count("orders").await, 3);
    app.stop().await;
}

/// A missing or zero price never turns the price check off: an enabled product without a price
/// above zero (as data from before the price became required could have it) sells at no price,
/// so its orders are refused with the price code and nothing is stored.
#[tokio::test]
async fn an_unpriced_product_sells_at_no_price() {
    let app = App::start().await;
    for price in [None, Some(0_i64)] {
        sqlx::query("UPDATE products SET price_fen = ?, enabled = 1 WHERE name = '点卡50'")
            .bind(price)
            .execute(&app.pool)
            .await
            .unwrap();
        for (no, total) in [("801", "0"), ("802", "50"), ("803", "0.01")] {
            let req = request(&format!(
                r#"{{"orderId":"{no}","buyNum":1,"skuId":"20001","totalPrice":"{total}"}}"#
            ));
            let a = call(&app, "cardOrder", &req).await;
            assert_eq!(a.ret_code, RetCode::PriceMismatch, "{price:?} {total}");
        }
    }
    assert_eq!(app.count("orders").await, 0);
    app.stop().await;
}

/// A succeeded card order holding fewer cards than `buyNum`: cardQuery answers in progress
/// (100, orderStatus 1, no cards) and a repeated cardOrder answers 100 without data.
#[tokio::test]
async fn wrong_card_count_is_answered_in_progress_not_success() {
    let app = App::start().await;
    let order = r#"{"orderId":"301189719001","buyNum":2,"skuId":"20001","brandId":"1","totalPrice":"100.00","sourceType":0}"#;
    call(&app, "cardOrder", &request(order)).await;
    let id = order_id(&app.pool, "301189719001").await;
    succeed_with_cards(&app.pool, id, &[("C1", "P1", None)]).await;
    let a = call(&app, "cardQuery", &request(r#"{"orderId":"301189719001"}"#)).await;
    assert_eq!(a.ret_code, RetCode::Success);
    let d = data_json(&a);
    assert_eq!(d["orderStatus"].as_i64(), Some(1), "{d}");
    assert!(d.get("cardinfos").is_none(), "{d}");
    let again = call(&app, "cardOrder", &request(order)).await;
    assert_eq!(
        (again.ret_code, again.data.as_deref()),
        (RetCode::Success, None)
    );
    assert_eq!(notes_starting(&app.pool, id, "卡密数量异常").await, 1);
    app.stop().await;
}

/// With the timestamp window on, a stale timestamp is answered with a retry code (106), never
/// 104 (which would make JD refund); a fresh one is accepted.
#[tokio::test]
async fn stale_timestamp_answers_a_retry_code() {
    let app = App::start_with(&[("GATEWAY_TIMESTAMP_WINDOW_SECS", "300")]).await;
    let order = r#"{"orderId":"301189719101","buyNum":1,"skuId":"20001","totalPrice":50}"#;
    let a = call(
        &app,
        "cardOrder",
        &request_bytes(order.as_bytes(), "20240101120000"),
    )
    .await;
    assert_eq!(a.ret_code, RetCode::SignFailed, "{a:?}");
    assert!(a.ret_code.is_retry());
    assert_eq!(app.count("orders").await, 0);
    let a = call(
        &app,
        "directQuery",
        &request_bytes(br#"{"orderId":"1"}"#, "20240101120000"),
    )
    .await;
    assert_eq!(a.ret_code, RetCode::SignFailed);
    let now = common::protocol::beijing_timestamp(chrono::Utc::now());
    let a = call(&app, "cardOrder", &request_bytes(order.as_bytes(), &now)).await;
    assert_eq!(a.ret_code, RetCode::Success, "{a:?}");
    app.stop().await;
}

/// directCharge `type=1` (gift rights): `rights` is required; its `rightsId` is stored and
/// echoed by directQuery with `type` 1, in progress and after success.
#[tokio::test]
async fn rights_top_up_stores_and_echoes_the_rights_id() {
    let app = App::start().await;
    let charge = r#"{"orderId":"301189719201","buyNum":"1","skuId":"10022039398","totalPrice":"9.80","gameAccount":"13800000000","type":1,"rights":[{"rightsId":88001,"buyNum":1,"rightsType":1,"account":"13800000000"}]}"#;
    let a = call(&app, "directCharge", &request(charge)).await;
    assert_eq!(a.ret_code, RetCode::Success, "{a:?}");
    let stored: (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT rights_id, rights FROM orders WHERE platform_order_no = '301189719201'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.0.as_deref(), Some("88001"));
    assert!(stored.1.unwrap().contains("\"rightsType\":1"));
    let q = request(r#"{"orderId":"301189719201"}"#);
    let d = data_json(&call(&app, "directQuery", &q).await);
    assert_eq!(
        d,
        serde_json::json!({"orderStatus":1,"type":1,"rightsId":"88001"})
    );
    let id = order_id(&app.pool, "301189719201").await;
    succeed_with_cards(&app.pool, id, &[]).await;
    let d = data_json(&call(&app, "directQuery", &q).await);
    assert_eq!(
        d,
        serde_json::json!({"orderStatus":0,"type":1,"rightsId":"88001"})
    );

    // A normal top-up has neither.
    let plain = r#"{"orderId":"301189719202","buyNum":"1","skuId":"10022039398","totalPrice":"9.80","gameAccount":"13800000000"}"#;
    call(&app, "directCharge", &request(plain)).await;
    let d = data_json(
        &call(
            &app,
            "directQuery",
            &request(r#"{"orderId":"301189719202"}"#),
        )
        .await,
    );
    assert_eq!(d, serde_json::json!({"orderStatus":1}));

    // type=1 without rights (or without a rightsId): invalid parameters, nothing stored.
    for bad in [
        r#"{"orderId":"301189719203","buyNum":"1","skuId":"10022039398","totalPrice":"9.80","gameAccount":"13800000000","type":1}"#,
        r#"{"orderId":"301189719203","buyNum":"1","skuId":"10022039398","totalPrice":"9.80","gameAccount":"13800000000","type":"1","rights":[{"buyNum":1}]}"#,
    ] {
        let a = call(&app, "directCharge", &request(bad)).await;
        assert_eq!(a.ret_code, RetCode::InvalidParams, "{a:?}");
    }
    assert_eq!(app.count("orders").await, 2);
    app.stop().await;
}

/// Cards of a product sold on 游戏点卡 are checked at import against JD's `cardno` charset; a
/// product sold only on 通用交易 keeps the general rules.
#[tokio::test]
async fn card_import_applies_jd_game_rules_to_game_products() {
    let app = App::start().await;
    let game_product: u64 = sqlx::query_scalar("SELECT id FROM products WHERE name = '点卡50'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let general_only = Product::card("通用卡")
        .price(Some(5000))
        .sku(common::domain::Platform::JdGeneral, "45100")
        .insert(&app.pool)
        .await;
    let text = "C-ok_1,P-1\nC#2,P-2\nC.3,P-3\n";
    let r = fixtures::import_cards(&app.pool, game_product, "G1", text).await;
    assert_eq!((r.new, r.invalid), (1, 2));
    assert_eq!(
        r.invalid_lines
            .iter()
            .map(|l| l.line_no)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert!(r.invalid_lines[0].reason.contains("游戏点卡"));
    // The same shapes of card (a card is in stock once, so other numbers) are fine on 通用交易.
    let text = "C-ok_4,P-4\nC#5,P-5\nC.6,P-6\n";
    let r = fixtures::import_cards(&app.pool, general_only, "N1", text).await;
    assert_eq!((r.new, r.invalid), (3, 0));
    app.stop().await;
}
