//! JD 通用交易: beginDistill and findDistill.

use common::domain::FailureReason;
use common::protocol::jd_general::{self as proto, DistillAnswer, ProduceCode, ProduceStatus};
use common::protocol::vectors::general as vectors;

use crate::{App, GENERAL_KEY, fail_order, notes_starting, order_id, succeed_with_cards};

const BEGIN: &str = "/api/jd/general/beginDistill";
const FIND: &str = "/api/jd/general/findDistill";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// JD's own beginDistill example (spec §8 S1), signed with the document's key.
fn doc_example() -> Vec<(String, String)> {
    let mut f = pairs(vectors::S1_FIELDS);
    let sign = proto::sign(&f, GENERAL_KEY);
    assert_eq!(
        sign,
        vectors::S1_SIGN,
        "the JD document's printed sign (S1)"
    );
    f.push(("sign".into(), sign));
    f
}

/// A card-goods beginDistill for `ware_no`, freshly signed, at 点卡50's price (50.00 a unit).
fn card_request(jd_order_no: &str, ware_no: &str, quantity: &str) -> Vec<(String, String)> {
    let total = (5000 * quantity.parse::<i64>().unwrap_or(1)).to_string();
    proto::sign_form(
        &pairs(&[
            ("wareNo", ware_no),
            ("quantity", quantity),
            ("jdOrderNo", jd_order_no),
            ("totalPrice", &total),
            ("payTime", "20240101120000"),
            ("notifyUrl", "https://vtpnotify.jd.com/vtp"),
            ("vendorId", "1201"),
            ("signType", "MD5"),
            ("timestamp", "20240101120000"),
        ]),
        GENERAL_KEY,
    )
}

async fn answer(app: &App, path: &str, fields: &[(String, String)]) -> DistillAnswer {
    let (status, body) = app.post_form(path, fields).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    DistillAnswer::parse_verified(&body, GENERAL_KEY).unwrap_or_else(|e| {
        panic!(
            "answer must verify with the shop key: {e:?}: {}",
            String::from_utf8_lossy(&body)
        )
    })
}

fn unsigned_answer(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("a JSON answer")
}

#[tokio::test]
async fn doc_example_is_accepted_once_and_enqueued_once() {
    let app = App::start().await;
    let a = answer(&app, BEGIN, &doc_example()).await;
    assert_eq!(a.code, ProduceCode::InProgress);
    assert_eq!(a.produce_status, ProduceStatus::InProgress);
    assert_eq!(a.jd_order_no.as_ref().map(|n| n.as_str()), Some("10001"));
    let agent = a.agent_order_no.clone().expect("agentOrderNo");

    let row: (String, String, i32, i64, Option<String>, String, Option<String>) = sqlx::query_as(
        "SELECT order_no, order_kind, quantity, total_price_fen, recharge_account, status, notify_url FROM orders",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row.0, agent);
    assert_eq!((row.1.as_str(), row.2, row.3), ("direct", 1, 10000));
    assert_eq!(row.4.as_deref(), Some("13333333333"));
    assert_eq!(row.5, "received");
    assert_eq!(row.6.as_deref(), Some("http://vtp.jd.com/notify"));
    assert_eq!(app.count("order_events").await, 1);

    // A repeat gets the same answer and creates nothing.
    let again = answer(&app, BEGIN, &doc_example()).await;
    assert_eq!(again, a);
    assert_eq!(app.count("orders").await, 1);

    let msgs = app.created_messages().await;
    assert_eq!(msgs.len(), 1, "one order.created message");
    assert_eq!(msgs[0].1["type"], "order.created");
    assert_eq!(msgs[0].1["platform"], "jd_general");
    let id = order_id(&app.pool, "10001").await;
    assert_eq!(msgs[0].1["order_id"], id);
    app.stop().await;
}

#[tokio::test]
async fn ten_concurrent_duplicates_make_one_order() {
    let app = App::start().await;
    let req = card_request("20002", "45002", "2");
    let answers = futures_util::future::join_all((0..10).map(|_| answer(&app, BEGIN, &req))).await;
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "identical answers: {answers:?}"
    );
    assert_eq!(answers[0].code, ProduceCode::InProgress);
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.count("order_events").await, 1);
    assert_eq!(app.created_messages().await.len(), 1, "one outbox message");
    app.stop().await;
}

#[tokio::test]
async fn refusals_answer_the_protocol_code_and_store_nothing() {
    let app = App::start().await;
    // Bad signature: JDO_304 with 4 (never a refund for an authentication problem).
    let mut bad = doc_example();
    bad.last_mut().unwrap().1 = "0".repeat(32);
    let a = answer(&app, BEGIN, &bad).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::SignatureFailed, ProduceStatus::Exception)
    );

    // A field changed after signing.
    let mut tampered = doc_example();
    tampered[4].1 = "1".into();
    let a = answer(&app, BEGIN, &tampered).await;
    assert_eq!(a.code, ProduceCode::SignatureFailed);

    // Unknown vendorId: no key to sign with, JDO_500 / 4.
    let unknown = proto::sign_form(
        &pairs(&[
            ("jdOrderNo", "1"),
            ("vendorId", "9999"),
            ("timestamp", "20240101120000"),
        ]),
        GENERAL_KEY,
    );
    let (_, body) = app.post_form(BEGIN, &unknown).await;
    let v = unsigned_answer(&body);
    assert_eq!(
        (v["code"].as_str(), v["produceStatus"].as_i64()),
        (Some("JDO_500"), Some(4))
    );

    // Unknown and disabled products.
    let a = answer(&app, BEGIN, &card_request("30001", "99999", "1")).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::NoSuchProduct, ProduceStatus::Failed)
    );
    let a = answer(&app, BEGIN, &card_request("30002", "45009", "1")).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::NotForSale, ProduceStatus::Failed)
    );

    // Direct product without a recharge account: JDO_301.
    let no_account = proto::sign_form(
        &pairs(&[
            ("wareNo", "45001"),
            ("quantity", "1"),
            ("jdOrderNo", "30003"),
            ("totalPrice", "10000"),
            ("payTime", "20210208101218"),
            ("notifyUrl", "http://vtp.jd.com/notify"),
            ("vendorId", "1201"),
            ("timestamp", "20210208101217"),
        ]),
        GENERAL_KEY,
    );
    let a = answer(&app, BEGIN, &no_account).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::WrongAccount, ProduceStatus::Failed)
    );

    // Missing field (signed correctly): JDO_303.
    let missing = proto::sign_form(
        &pairs(&[
            ("jdOrderNo", "30004"),
            ("vendorId", "1201"),
            ("timestamp", "20240101120000"),
        ]),
        GENERAL_KEY,
    );
    let a = answer(&app, BEGIN, &missing).await;
    assert_eq!(a.code, ProduceCode::InvalidParams);
    assert_eq!(a.jd_order_no.as_ref().map(|n| n.as_str()), Some("30004"));

    // Non-numeric jdOrderNo.
    let bad_no = proto::sign_form(
        &pairs(&[
            ("jdOrderNo", "12a"),
            ("vendorId", "1201"),
            ("timestamp", "1"),
        ]),
        GENERAL_KEY,
    );
    let a = answer(&app, BEGIN, &bad_no).await;
    assert_eq!(a.code, ProduceCode::InvalidParams);

    // Garbage body, empty body, oversized body: a JSON answer with HTTP 200, never a 4xx/5xx.
    for body in [
        b"\xff\xfe%%%=&&=".to_vec(),
        Vec::new(),
        vec![b'a'; 70 * 1024],
    ] {
        let (status, answer) = app
            .post_raw(BEGIN, body, "application/x-www-form-urlencoded")
            .await;
        assert_eq!(status, 200);
        let v = unsigned_answer(&answer);
        assert!(v["code"].as_str().unwrap().starts_with("JDO_"), "{v}");
    }
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("outbox").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn find_distill_answers_from_the_database() {
    let app = App::start().await;
    let accepted = answer(&app, BEGIN, &card_request("40001", "45002", "2")).await;
    let find = |no: &str| {
        proto::sign_form(
            &pairs(&[
                ("jdOrderNo", no),
                ("signType", "MD5"),
                ("timestamp", "20210207170426"),
            ]),
            GENERAL_KEY,
        )
    };

    // The spec's S3 vector is exactly this request for 10001.
    assert_eq!(
        proto::sign(&find("10001")[..3], GENERAL_KEY),
        vectors::S3_SIGN
    );

    let a = answer(&app, FIND, &find("40001")).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::InProgress, ProduceStatus::InProgress)
    );
    assert_eq!(a.agent_order_no, accepted.agent_order_no);

    let id = order_id(&app.pool, "40001").await;
    succeed_with_cards(
        &app.pool,
        id,
        &[
            ("CARD0001", "PWD-0001", Some("2099-12-31")),
            ("CARD0002", "PWD-0002", None),
        ],
    )
    .await;
    let a = answer(&app, FIND, &find("40001")).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::Success, ProduceStatus::Success)
    );
    let aes = common::crypto::JdAesKey::new(GENERAL_KEY).unwrap();
    let cards = proto::decrypt_cards(a.product.as_deref().unwrap(), &aes).unwrap();
    assert_eq!(cards.len(), 2);
    assert_eq!(
        (
            cards[0].card_number.as_str(),
            cards[0].password.as_str(),
            cards[0].expiry_date.as_str()
        ),
        ("CARD0001", "PWD-0001", "2099-12-31")
    );
    assert_eq!(cards[1].expiry_date, "-");
    // beginDistill repeated after success returns the same cards (ECB: the same ciphertext).
    let again = answer(&app, BEGIN, &card_request("40001", "45002", "2")).await;
    assert_eq!(again.product, a.product);
    assert_eq!(again.produce_status, ProduceStatus::Success);

    // With vendorId too.
    let mut with_vendor = pairs(&[
        ("jdOrderNo", "40001"),
        ("vendorId", "1201"),
        ("timestamp", "20210207170426"),
    ]);
    with_vendor = proto::sign_form(&with_vendor, GENERAL_KEY);
    assert_eq!(
        answer(&app, FIND, &with_vendor).await.produce_status,
        ProduceStatus::Success
    );

    // A failed order: produceStatus 2 with its reason's code.
    answer(&app, BEGIN, &card_request("40002", "45002", "1")).await;
    fail_order(
        &app.pool,
        order_id(&app.pool, "40002").await,
        FailureReason::OutOfStock,
    )
    .await;
    let a = answer(&app, FIND, &find("40002")).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::InvalidParams, ProduceStatus::Failed)
    );

    // Unknown order: the safe answer, JDO_500 / 4 (no refund), signed with the shop's key.
    let a = answer(&app, FIND, &find("49999")).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::SystemError, ProduceStatus::Exception)
    );

    // A findDistill nobody's key signed.
    let mut forged = find("40001");
    forged.last_mut().unwrap().1 = "f".repeat(32);
    let (_, body) = app.post_form(FIND, &forged).await;
    assert_eq!(unsigned_answer(&body)["code"], "JDO_304");
    app.stop().await;
}

#[tokio::test]
async fn ip_allow_list_and_key_changes_apply_without_restart() {
    let app = App::start().await;
    sqlx::query("UPDATE shops SET ip_allowlist = '10.9.9.9' WHERE merchant_id = '1201'")
        .execute(&app.pool)
        .await
        .unwrap();
    let a = answer(&app, BEGIN, &doc_example()).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::SignatureFailed, ProduceStatus::Exception)
    );
    sqlx::query("UPDATE shops SET ip_allowlist = '127.0.0.0/8' WHERE merchant_id = '1201'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        answer(&app, BEGIN, &doc_example()).await.code,
        ProduceCode::InProgress
    );
    app.stop().await;
}

/// A succeeded card order holding fewer cards than its quantity is never answered as a success:
/// findDistill and a repeated beginDistill say "in progress" (JDO_201 / 3) and the alert is on
/// the order's timeline once.
#[tokio::test]
async fn wrong_card_count_is_answered_in_progress_not_success() {
    let app = App::start().await;
    answer(&app, BEGIN, &card_request("40101", "45002", "2")).await;
    let id = order_id(&app.pool, "40101").await;
    succeed_with_cards(&app.pool, id, &[("CARD0101", "PWD-0101", None)]).await;
    let find = proto::sign_form(
        &pairs(&[("jdOrderNo", "40101"), ("timestamp", "20210207170426")]),
        GENERAL_KEY,
    );
    // Polls at once: the note is still written once.
    let begin = card_request("40101", "45002", "2");
    let polls = (0..8).map(|i| {
        let (path, form) = if i % 2 == 0 {
            (FIND, &find)
        } else {
            (BEGIN, &begin)
        };
        answer(&app, path, form)
    });
    for a in futures_util::future::join_all(polls).await {
        assert_eq!(
            (a.code, a.produce_status, a.product.as_deref()),
            (ProduceCode::InProgress, ProduceStatus::InProgress, None)
        );
    }
    assert_eq!(notes_starting(&app.pool, id, "卡密数量异常").await, 1);
    app.stop().await;
}

/// Cards are sealed for their own row: a database writer who swaps two sold cards' password
/// ciphertexts does not get JD told the other order's card. The order is answered "in progress"
/// (never a success, never a refund) and the alert is on its timeline once, however often JD
/// asks.
#[tokio::test]
async fn a_card_swapped_between_rows_is_never_answered() {
    let app = App::start().await;
    for no in ["40201", "40202"] {
        answer(&app, BEGIN, &card_request(no, "45002", "1")).await;
    }
    let (a, b) = (
        order_id(&app.pool, "40201").await,
        order_id(&app.pool, "40202").await,
    );
    succeed_with_cards(&app.pool, a, &[("CARD0201", "PWD-0201", None)]).await;
    succeed_with_cards(&app.pool, b, &[("CARD0202", "PWD-0202", None)]).await;
    let find = |no: &str| {
        proto::sign_form(
            &pairs(&[("jdOrderNo", no), ("timestamp", "20210207170426")]),
            GENERAL_KEY,
        )
    };
    let before = answer(&app, FIND, &find("40201")).await;
    assert_eq!(before.code, ProduceCode::Success);
    let blob = |order: u64| {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT card_pass_enc FROM cards WHERE order_id = ?")
            .bind(order)
            .fetch_one(&app.pool)
    };
    let (blob_a, blob_b) = (blob(a).await.unwrap(), blob(b).await.unwrap());
    for (order, other) in [(a, &blob_b), (b, &blob_a)] {
        sqlx::query("UPDATE cards SET card_pass_enc = ? WHERE order_id = ?")
            .bind(other)
            .bind(order)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    for no in ["40201", "40202", "40201", "40202"] {
        let after = answer(&app, FIND, &find(no)).await;
        assert_eq!(
            (after.code, after.produce_status, after.product.as_deref()),
            (ProduceCode::InProgress, ProduceStatus::InProgress, None),
            "{no}"
        );
    }
    for id in [a, b] {
        assert_eq!(notes_starting(&app.pool, id, "卡密无法解密").await, 1);
    }
    app.stop().await;
}

/// A findDistill that fails parsing answers produceStatus 4 (never 2, a refund); a beginDistill
/// repeat that fails parsing still gets the stored order's answer.
#[tokio::test]
async fn parse_errors_never_refund_a_known_order() {
    let app = App::start().await;
    let accepted = answer(&app, BEGIN, &card_request("40201", "45002", "1")).await;
    // Signed correctly but without timestamp: the request does not parse.
    let find = proto::sign_form(&pairs(&[("jdOrderNo", "40201")]), GENERAL_KEY);
    let a = answer(&app, FIND, &find).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::InvalidParams, ProduceStatus::Exception)
    );
    // The same order repeated without payTime (signed): the stored answer, not JDO_303 / 2.
    let mut repeat = card_request("40201", "45002", "1");
    repeat.retain(|(k, _)| k != "payTime" && k != "sign");
    let repeat = proto::sign_form(&repeat, GENERAL_KEY);
    let a = answer(&app, BEGIN, &repeat).await;
    assert_eq!(
        (a.code, a.produce_status, a.agent_order_no.clone()),
        (
            ProduceCode::InProgress,
            ProduceStatus::InProgress,
            accepted.agent_order_no.clone()
        )
    );
    let id = order_id(&app.pool, "40201").await;
    succeed_with_cards(&app.pool, id, &[("CARD0201", "PWD-0201", None)]).await;
    let a = answer(&app, BEGIN, &repeat).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::Success, ProduceStatus::Success)
    );
    assert!(a.product.is_some());
    // An unknown order that fails parsing is still refused as before.
    let mut unknown = card_request("40202", "45002", "1");
    unknown.retain(|(k, _)| k != "payTime" && k != "sign");
    let a = answer(&app, BEGIN, &proto::sign_form(&unknown, GENERAL_KEY)).await;
    assert_eq!(a.code, ProduceCode::InvalidParams);
    assert_eq!(app.count("orders").await, 1);
    app.stop().await;
}

/// A direct order with quantity ≠ 1 answers JDO_303 (invalid parameters); a wrong account stays
/// JDO_301. A test-mode shop takes orders without (or with an odd) notifyUrl; a production shop
/// still needs one.
#[tokio::test]
async fn direct_quantity_and_notify_url_rules() {
    let app = App::start().await;
    let direct = |no: &str, quantity: &str, account: &str, notify: Option<&str>| {
        let mut f = pairs(&[
            ("wareNo", "45001"),
            ("quantity", quantity),
            ("jdOrderNo", no),
            ("produceAccount", account),
            ("totalPrice", "10000"),
            ("payTime", "20210208101218"),
            ("vendorId", "1201"),
            ("timestamp", "20210208101217"),
        ]);
        if let Some(url) = notify {
            f.push(("notifyUrl".into(), url.into()));
        }
        proto::sign_form(&f, GENERAL_KEY)
    };
    let url = Some("http://vtp.jd.com/notify");
    let a = answer(&app, BEGIN, &direct("50001", "2", "13333333333", url)).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::InvalidParams, ProduceStatus::Failed)
    );
    let a = answer(&app, BEGIN, &direct("50002", "1", "", url)).await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::WrongAccount, ProduceStatus::Failed)
    );
    // Production shop: notifyUrl missing or not http(s) is JDO_303.
    for (no, notify) in [("50003", None), ("50004", Some("vtp.jd.com/notify"))] {
        let a = answer(&app, BEGIN, &direct(no, "1", "13333333333", notify)).await;
        assert_eq!(a.code, ProduceCode::InvalidParams, "{no}");
    }
    assert_eq!(app.count("orders").await, 0);
    // Test mode: accepted, stored without a notifyUrl.
    sqlx::query("UPDATE shops SET mode = 'test' WHERE merchant_id = '1201'")
        .execute(&app.pool)
        .await
        .unwrap();
    for (no, notify) in [("50005", None), ("50006", Some("vtp.jd.com/notify"))] {
        let a = answer(&app, BEGIN, &direct(no, "1", "13333333333", notify)).await;
        assert_eq!(
            (a.code, a.produce_status),
            (ProduceCode::InProgress, ProduceStatus::InProgress),
            "{no}"
        );
    }
    let stored: Vec<Option<String>> =
        sqlx::query_scalar("SELECT notify_url FROM orders ORDER BY platform_order_no")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, vec![None, None]);
    app.stop().await;
}

/// Behind proxies, the allow-list sees the right-most hop no trusted proxy appended, never the
/// left-most one the client wrote itself.
#[tokio::test]
async fn ip_allow_list_behind_proxies_uses_the_right_most_untrusted_hop() {
    let app = App::start_with(&[
        ("GATEWAY_TRUST_FORWARDED_FOR", "true"),
        // The CDN, and our own proxy: the test connects from loopback.
        ("TRUSTED_PROXIES", "198.51.100.0/24, 127.0.0.1"),
    ])
    .await;
    sqlx::query("UPDATE shops SET ip_allowlist = '203.0.113.9' WHERE merchant_id = '1201'")
        .execute(&app.pool)
        .await
        .unwrap();
    let body = common::protocol::form::encode_form(&doc_example());
    let via = |xff: &'static str| {
        let body = body.clone();
        let app = &app;
        async move {
            let r = app
                .client
                .post(format!("{}{}", app.base, BEGIN))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", xff)
                .body(body)
                .send()
                .await
                .unwrap();
            let bytes = r.bytes().await.unwrap();
            unsigned_answer(&bytes)["code"].as_str().unwrap().to_owned()
        }
    };
    // A client at 6.6.6.6 claiming the allowed address in the header: refused.
    assert_eq!(via("203.0.113.9, 6.6.6.6").await, "JDO_304");
    // The allowed client, behind the trusted CDN and our proxy (the socket peer): accepted.
    assert_eq!(
        via("6.6.6.6, 203.0.113.9, 198.51.100.20").await,
        "JDO_201",
        "the forged left-most hop is ignored"
    );
    app.stop().await;
}
