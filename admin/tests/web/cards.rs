//! 卡密库存: the stock table, the list's filters, pages and capped totals with masked cards only
//! (no character of a password, at most the last 4 of a number); the import preview's exact
//! counts (new / repeated in the file / already in stock of any product, named / invalid) for
//! pasted text and UTF-8 and GBK files; the commit importing exactly the new cards once even
//! when submitted twice, and never for another user, nor a card another product took since the
//! preview; voiding one card or a batch; the export of exactly a batch's available cards, which
//! become `exported` unless kept, audited either way; viewers refused on every card page.

use common::testing::fixtures::{self, Product};
use reqwest::multipart::{Form, Part};

use crate::{Answer, App, Browser, assert_no_secret};

async fn card_product(app: &App, name: &str, threshold: Option<i32>) -> u64 {
    Product::card(name)
        .face_value(1000)
        .price(Some(1000))
        .low_stock_threshold(threshold)
        .insert(&app.pool)
        .await
}

/// Cards straight into stock (the CLI's import) under `batch`.
async fn stock(app: &App, product: u64, batch: &str, cards: &[(&str, &str)]) {
    fixtures::stock_cards(&app.pool, product, batch, cards).await;
    // Cards added behind the admin's back: its stock snapshot (computed at start) would only
    // see them after its TTL, as with a restock by another process.
    admin::web::cards::forget_stock(&app.pool);
}

async fn exec(app: &App, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

fn paste(b: &Browser, product: u64, text: &str) -> Form {
    Form::new()
        .text("_csrf", b.csrf.clone())
        .text("product", product.to_string())
        .text("text", text.to_owned())
}

fn upload(b: &Browser, product: u64, name: &str, bytes: Vec<u8>) -> Form {
    Form::new()
        .text("_csrf", b.csrf.clone())
        .text("product", product.to_string())
        .text("text", String::new())
        .part(
            "file",
            Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str("text/plain")
                .unwrap(),
        )
}

async fn preview(b: &Browser, form: Form) -> Answer {
    b.post_multipart("/admin/cards/import/preview", form).await
}

/// The preview's four counts: (new, repeated in file, already in stock, invalid).
fn counts(html: &str) -> (u64, u64, u64, u64) {
    let get = |id: &str| {
        let marker = format!("id=\"{id}\">");
        let at = html
            .find(&marker)
            .unwrap_or_else(|| panic!("{id} in {html}"))
            + marker.len();
        html[at..]
            .split('<')
            .next()
            .unwrap()
            .replace(',', "")
            .parse::<u64>()
            .unwrap()
    };
    (
        get("count-new"),
        get("count-dup-file"),
        get("count-dup-stock"),
        get("count-invalid"),
    )
}

fn draft_of(html: &str) -> String {
    let marker = "name=\"draft\" value=\"";
    let at = html.find(marker).expect("a commit form") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// Follows a 303 and returns the page it leads to (with its flash).
async fn follow(b: &Browser, a: &Answer) -> String {
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get(a.location.as_deref().expect("redirect")).await;
    assert_eq!(page.status, 200);
    page.body
}

fn rows_in(html: &str) -> usize {
    html.matches("<tr class=\"cards-row\">").count()
}

const NEW: [(&str, &str); 3] = [
    ("NEWCARD000001", "NEWPASS000001"),
    ("NEWCARD000002", "NEWPASS000002"),
    ("NEWCARD000004", "NEWPASS000004"),
];
const STOCKED: [(&str, &str); 2] = [
    ("STOCKCARD0001", "STOCKPASS0001"),
    ("STOCKCARD0002", "STOCKPASS0002"),
];

/// Three new cards, two repeats within the text, two cards already in stock, two invalid
/// lines, a header and a blank line.
const CRAFTED: &str = "卡号,卡密,有效期
NEWCARD000001,NEWPASS000001
NEWCARD000002 NEWPASS000002 2099-12-31
NEWCARD000001,NEWPASS000001
STOCKCARD0001,STOCKPASS0001
onlyonefield
NEWCARD000003,NEWPASS000003,2001-01-01

NEWCARD000004，NEWPASS000004
STOCKCARD0002,STOCKPASS0002
NEWCARD000002,NEWPASS000002
";

fn clear_values() -> Vec<&'static str> {
    let mut v: Vec<&str> = NEW.iter().flat_map(|(n, p)| [*n, *p]).collect();
    v.extend(STOCKED.iter().flat_map(|(n, p)| [*n, *p]));
    v.extend(["NEWCARD000003", "NEWPASS000003"]);
    v
}

#[tokio::test]
async fn preview_counts_are_exact_and_cards_stay_masked() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", None).await;
    let other = card_product(&app, "网易一卡通", None).await;
    stock(&app, p, "old", &STOCKED).await;
    // The same card in another product's stock is a duplicate too: a card is sold once.
    stock(
        &app,
        other,
        "elsewhere",
        &[("NEWCARD000005", "NEWPASS000005")],
    )
    .await;
    let b = app.login("operator").await;

    let form = b.get("/admin/cards/import").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("腾讯Q币10元"));
    assert!(form.body.contains("enctype=\"multipart/form-data\""));

    let a = preview(&b, paste(&b, p, CRAFTED)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(counts(&a.body), (3, 2, 2, 2));
    let crafted = format!("{CRAFTED}NEWCARD000005,NEWPASS000005\n");
    let a2 = preview(&b, paste(&b, p, &crafted)).await;
    assert_eq!(counts(&a2.body), (3, 2, 3, 2), "held by another product");
    assert!(
        a2.body.contains("已在其他商品「网易一卡通」"),
        "names the product holding it: {}",
        a2.body
    );
    assert!(a2.body.contains("商品「网易一卡通」1 张"));
    assert!(a2.body.contains("本商品库存中已有（可用）"));
    assert_no_secret(&a2.body, &clear_values());
    assert_no_fragment(&a2.body, &["NEWCARD000005", "NEWPASS000005"]);
    assert!(a.body.contains("第 6 行"), "invalid line numbers");
    assert!(a.body.contains("格式错误"));
    assert!(a.body.contains("第 7 行"));
    assert!(a.body.contains("卡密已过期"));
    assert!(a.body.contains("与第 2 行重复"));
    assert!(a.body.contains("与第 3 行重复"));
    assert!(a.body.contains("****0001"), "masked samples");
    assert!(a.body.contains("****0002"));
    assert!(a.body.contains("******"));
    assert!(a.body.contains("2099-12-31"));
    assert_no_secret(&a.body, &clear_values());
    assert_no_fragment(&a.body, &clear_values());
    let draft = draft_of(&a.body);

    // Nothing imported yet; the draft holds the three new cards encrypted, for this user.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cards WHERE product_id = {p}"
        ))
        .await,
        2
    );
    let (user, new_cards, parts): (String, i32, Vec<u8>) = sqlx::query_as(
        "SELECT u.username, d.new_cards, p.cards_enc FROM card_import_drafts d
         JOIN admin_users u ON u.id = d.user_id
         JOIN card_import_draft_parts p ON p.draft_id = d.id WHERE d.id = ?",
    )
    .bind(&draft)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((user.as_str(), new_cards), ("operator", 3));
    let blob = String::from_utf8_lossy(&parts).into_owned();
    assert_no_secret(&blob, &clear_values());
    let part_slot = common::crypto::Slot::new(
        common::crypto::SealedColumn::ImportDraftPart,
        common::crypto::RowKey::DraftPart {
            draft_id: &draft,
            seq: 0,
        },
    );
    let clear = common::testing::master_key()
        .open_string(part_slot, &parts)
        .unwrap();
    assert!(clear.contains("NEWCARD000004\tNEWPASS000004"));
    assert!(
        !clear.contains("STOCKCARD0001"),
        "only the new cards are kept"
    );

    // Bad input: a message, never a 500.
    for (form, msg) in [
        (paste(&b, p, ""), "请粘贴卡密"),
        (
            Form::new()
                .text("_csrf", b.csrf.clone())
                .text("product", "")
                .text("text", "A1234,B1234"),
            "请选择要导入的商品",
        ),
        (paste(&b, 999_999, "A1234,B1234"), "商品不存在"),
        (paste(&b, p, "卡号,卡密\n\n  \n"), "没有读到任何卡密"),
        (
            upload(&b, p, "cards.txt", b"A1234,B1234\n".to_vec()).text("text", "A1,B1"),
            "只用一种方式",
        ),
        (
            upload(&b, p, "cards.xlsx", b"PK\x03\x04".to_vec()),
            "另存为",
        ),
    ] {
        let a = preview(&b, form).await;
        assert_eq!(a.status, 400, "{msg}");
        assert!(a.body.contains(msg), "{msg}: {}", a.body);
    }
    let direct = Product::direct_manual("话费直充")
        .price(Some(1000))
        .insert(&app.pool)
        .await;
    let a = preview(&b, paste(&b, direct, "A1234,B1234")).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("只有卡密商品"));
    // Only duplicates and invalid lines: nothing to commit, no draft.
    let drafts = app.count("SELECT COUNT(*) FROM card_import_drafts").await;
    let a = preview(&b, paste(&b, p, "STOCKCARD0001,STOCKPASS0001\nbad\n")).await;
    assert_eq!(a.status, 200);
    assert_eq!(counts(&a.body), (0, 0, 1, 1));
    assert!(a.body.contains("没有可导入的新卡密"));
    assert!(!a.body.contains("name=\"draft\""));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_drafts").await,
        drafts
    );
    app.stop().await;
}

#[tokio::test]
async fn commit_imports_the_new_cards_once_even_when_submitted_twice() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", Some(10)).await;
    stock(&app, p, "old", &STOCKED).await;
    let b = app.login("operator").await;
    let a = preview(&b, paste(&b, p, CRAFTED)).await;
    let draft = draft_of(&a.body);

    // A double click: two submits at once, then a third later.
    let form = [("draft", draft.as_str())];
    let (one, two) = tokio::join!(
        b.post("/admin/cards/import/commit", &form),
        b.post("/admin/cards/import/commit", &form),
    );
    assert_eq!((one.status, two.status), (303, 303));
    let again = b
        .post("/admin/cards/import/commit", &[("draft", &draft)])
        .await;
    let page = follow(&b, &again).await;
    assert!(page.contains("重复提交未再次导入"), "{page}");

    let batches: Vec<(String, String, String, i32, i32, i32, i32)> = sqlx::query_as(
        "SELECT id, source, imported_by, total_lines, inserted, duplicates, invalid
         FROM card_batches WHERE id <> 'old'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(batches.len(), 1, "one batch");
    let (batch, source, by, total, inserted, dups, invalid) = batches[0].clone();
    assert!(batch.starts_with('B'));
    assert_eq!(
        (source.as_str(), by.as_str(), total, inserted, dups, invalid),
        ("粘贴", "operator", 9, 3, 4, 2)
    );
    let key = common::testing::master_key();
    /// fingerprint, card_no_enc, card_pass_enc, status, expires_at
    type Stored = (Vec<u8>, Vec<u8>, Vec<u8>, String, chrono::NaiveDate);
    let imported: Vec<Stored> = sqlx::query_as(
        "SELECT fingerprint, card_no_enc, card_pass_enc, status, expires_at FROM cards
         WHERE batch_id = ? ORDER BY id",
    )
    .bind(&batch)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let got: Vec<(String, String)> = imported
        .iter()
        .map(|(fp, n, pw, s, _)| {
            use common::crypto::SealedColumn::{CardNo, CardPassword};
            assert_eq!(s, "available");
            (
                common::db::cards::open(&key, CardNo, p, fp, n).unwrap(),
                common::db::cards::open(&key, CardPassword, p, fp, pw).unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = NEW
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect();
    assert_eq!(got, want, "exactly the new cards, once");
    assert_eq!(imported[1].4.to_string(), "2099-12-31");
    assert_eq!(imported[0].4.to_string(), "9999-12-31");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cards WHERE product_id = {p}"
        ))
        .await,
        5
    );
    // One audit row with counts only; the draft's cards are gone.
    let audits: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT username, target_id, detail FROM audit_log WHERE action = 'card.import'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].0, "operator");
    assert_eq!(audits[0].1.as_deref(), Some(batch.as_str()));
    let detail = audits[0].2.clone().unwrap();
    assert!(detail.contains("新增 3 张"), "{detail}");
    assert_no_secret(&detail, &clear_values());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_draft_parts")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_drafts WHERE status = 'committed'")
            .await,
        1
    );

    // The batch's page: imported counts, masked cards, the stock updated at once.
    let page = b.get(&format!("/admin/cards?batch={}", batch)).await;
    assert_eq!(page.status, 200);
    assert_eq!(rows_in(&page.body), 3);
    assert!(page.body.contains(">****0004<"));
    assert!(page.body.contains("新增 3 张"));
    assert_no_secret(&page.body, &clear_values());
    assert_no_fragment(&page.body, &clear_values());
    let list = b.get("/admin/cards").await;
    assert!(
        list.body.contains("data-available=\"5\""),
        "stock refreshed at once"
    );
    assert!(
        list.body.contains("库存不足"),
        "5 below the threshold of 10"
    );
    assert_no_secret(&list.body, &clear_values());

    // A bogus or expired draft: a message, nothing imported.
    let a = b
        .post("/admin/cards/import/commit", &[("draft", "nothex")])
        .await;
    assert!(follow(&b, &a).await.contains("导入预览无效"));
    let a = preview(&b, paste(&b, p, "LATECARD0001,LATEPASS0001")).await;
    let late = draft_of(&a.body);
    exec(
        &app,
        &format!(
            "UPDATE card_import_drafts SET expires_at = NOW(3) - INTERVAL 1 MINUTE WHERE id = '{late}'"
        ),
    )
    .await;
    let a = b
        .post("/admin/cards/import/commit", &[("draft", &late)])
        .await;
    assert!(follow(&b, &a).await.contains("已过期"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cards WHERE product_id = {p}"
        ))
        .await,
        5
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM card_import_draft_parts WHERE draft_id = '{late}'"
        ))
        .await,
        0,
        "an expired draft's cards are deleted"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_card_is_in_stock_once_across_products() {
    let app = App::start().await;
    let a = card_product(&app, "腾讯Q币10元", None).await;
    let b_id = card_product(&app, "网易一卡通", None).await;
    stock(&app, a, "in-a", &[("ONCECARD0001", "ONCEPASS0001")]).await;
    let key = common::testing::master_key();

    // The CLI's import: a card of another product is a duplicate, and the report names it.
    let r = fixtures::import_cards(
        &app.pool,
        b_id,
        "in-b",
        "ONCECARD0001,ONCEPASS0001\nONCECARD0002,ONCEPASS0002\n",
    )
    .await;
    assert_eq!((r.new, r.duplicate), (1, 1));
    assert_eq!(r.held_elsewhere, vec![("腾讯Q币10元".to_owned(), 1)]);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cards WHERE product_id = {b_id}"
        ))
        .await,
        1
    );

    // Imported into another product between preview and commit: skipped at the commit.
    let op = app.login("operator").await;
    let pv = preview(
        &op,
        paste(
            &op,
            b_id,
            "ONCECARD0003,ONCEPASS0003\nONCECARD0004,ONCEPASS0004",
        ),
    )
    .await;
    assert_eq!(counts(&pv.body), (2, 0, 0, 0));
    stock(&app, a, "late", &[("ONCECARD0003", "ONCEPASS0003")]).await;
    let done = op
        .post(
            "/admin/cards/import/commit",
            &[("draft", &draft_of(&pv.body))],
        )
        .await;
    let page = follow(&op, &done).await;
    assert!(page.contains("新增 1 张"), "{page}");
    assert!(page.contains("另有 1 张在预览后已被导入库存"), "{page}");
    let holders: Vec<u64> =
        sqlx::query_scalar("SELECT product_id FROM cards WHERE fingerprint = ?")
            .bind(
                key.fingerprint(&common::domain::card_import::fingerprint_input(
                    &common::domain::card_import::CardLine {
                        card_no: "ONCECARD0003".into(),
                        password: "ONCEPASS0003".into(),
                        expires_on: None,
                    },
                ))
                .as_slice(),
            )
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        holders,
        vec![a],
        "one copy, in the product that took it first"
    );

    // The database itself refuses a second copy in any product, whatever the writer.
    let copy = sqlx::query(
        "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint)
         SELECT ?, 'raw', card_no_enc, card_pass_enc, fingerprint FROM cards
         WHERE batch_id = 'in-a'",
    )
    .bind(b_id)
    .execute(&app.pool)
    .await;
    assert!(
        copy.as_ref().is_err_and(common::db::is_unique_violation),
        "{copy:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_draft_can_only_be_committed_by_its_author() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", None).await;
    let op = app.login("operator").await;
    let admin = app.login("admin").await;
    let a = preview(&op, paste(&op, p, "OWNCARD00001,OWNPASS00001\n")).await;
    let draft = draft_of(&a.body);
    let stolen = admin
        .post("/admin/cards/import/commit", &[("draft", &draft)])
        .await;
    assert_eq!(stolen.status, 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_drafts WHERE status = 'pending'")
            .await,
        1
    );
    let mine = op
        .post("/admin/cards/import/commit", &[("draft", &draft)])
        .await;
    let page = follow(&op, &mine).await;
    assert!(page.contains("导入完成"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn utf8_and_gbk_files_are_read() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", None).await;
    let b = app.login("operator").await;

    // UTF-8 with a byte order mark, CRLF lines, a header.
    let utf8 = "\u{feff}卡号,卡密,有效期\r\nUTFCARD00001,UTFPASS00001,2099-01-01\r\nUTFCARD00002,UTFPASS00002\r\n";
    let a = preview(&b, upload(&b, p, "utf8.csv", utf8.as_bytes().to_vec())).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(counts(&a.body), (2, 0, 0, 0));
    assert!(a.body.contains("UTF-8"));
    assert_no_secret(&a.body, &["UTFCARD00001", "UTFPASS00002"]);

    // GBK (what Excel saves on Chinese Windows): a header "卡号,卡密,有效期" that is only
    // skipped when decoded right, two cards, and a line of Chinese (invalid: not ASCII).
    let mut gbk: Vec<u8> =
        b"\xbf\xa8\xba\xc5\x2c\xbf\xa8\xc3\xdc\x2c\xd3\xd0\xd0\xa7\xc6\xda\r\n".to_vec();
    gbk.extend_from_slice(b"GBKCARD00001,GBKPASS00001\r\n");
    gbk.extend_from_slice(b"\xce\xde\xd0\xa7\xbf\xa8\x2c\xce\xde\xd0\xa7\xc3\xdc\r\n");
    gbk.extend_from_slice(b"GBKCARD00002\tGBKPASS00002\r\n");
    let a = preview(&b, upload(&b, p, "C:\\卡密\\gbk批次.csv", gbk)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(counts(&a.body), (2, 0, 0, 1));
    assert!(a.body.contains("GBK"));
    assert!(a.body.contains("第 3 行"));
    assert!(a.body.contains("只能包含英文字母"));
    assert_no_secret(&a.body, &["GBKCARD00001", "GBKPASS00002"]);
    let draft = draft_of(&a.body);
    let done = b
        .post("/admin/cards/import/commit", &[("draft", &draft)])
        .await;
    follow(&b, &done).await;
    let source: String = sqlx::query_scalar("SELECT source FROM card_batches WHERE product_id = ?")
        .bind(p)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(source, "gbk批次.csv");
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 2);

    // Bytes that are no text encoding we read: refused with a message.
    let a = preview(
        &b,
        upload(&b, p, "bad.txt", b"A1234,B1234\n\xff\xff\xff\n".to_vec()),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("无法识别文件编码"));
    let a = preview(&b, upload(&b, p, "empty.txt", Vec::new())).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("文件是空的") || a.body.contains("请粘贴卡密"));
    app.stop().await;
}

#[tokio::test]
async fn list_filters_pages_stock_and_masking() {
    let app = App::start().await;
    let a = card_product(&app, "商品甲", Some(50)).await;
    let bp = card_product(&app, "商品乙", None).await;
    let cards_a: Vec<(String, String)> = (0..60)
        .map(|i| (format!("AAACARD{i:06}"), format!("AAAPASS{i:06}")))
        .collect();
    let refs: Vec<(&str, &str)> = cards_a
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect();
    stock(&app, a, "batch-a1", &refs[..40]).await;
    stock(&app, a, "batch-a2", &refs[40..]).await;
    stock(
        &app,
        bp,
        "batch-b1",
        &[
            ("BBBCARD000001", "BBBPASS000001"),
            ("BBBCARD000002", "BBBPASS000002"),
        ],
    )
    .await;
    // In batch a1: 5 sold, 3 void (by id, lowest first).
    exec(
        &app,
        "UPDATE cards SET status = 'sold', sold_at = NOW(3) WHERE batch_id = 'batch-a1'
         ORDER BY id LIMIT 5",
    )
    .await;
    exec(
        &app,
        "UPDATE cards SET status = 'void' WHERE batch_id = 'batch-a1' AND status = 'available'
         ORDER BY id LIMIT 3",
    )
    .await;
    let secrets: Vec<&str> = cards_a
        .iter()
        .flat_map(|(n, p)| [n.as_str(), p.as_str()])
        .chain(["BBBCARD000001", "BBBPASS000002"])
        .collect();
    let b = app.login("operator").await;

    let all = b.get("/admin/cards").await;
    assert_eq!(all.status, 200);
    assert_eq!(rows_in(&all.body), 50);
    assert!(all.body.contains("共 62 条"));
    assert!(all.body.contains(">****0002<"), "newest first");
    assert!(all.body.contains("data-available=\"52\""));
    assert!(all.body.contains("data-available=\"2\""));
    assert!(!all.body.contains("库存不足"), "52 available, threshold 50");
    assert_no_secret(&all.body, &secrets);
    assert_no_fragment(&all.body, &secrets);

    let page2 = b.get("/admin/cards?page=2").await;
    assert_eq!(rows_in(&page2.body), 12);
    assert!(page2.body.contains(">****0000<"), "oldest last");
    assert_no_secret(&page2.body, &secrets);
    assert_no_fragment(&page2.body, &secrets);

    let only_a = b.get(&format!("/admin/cards?product={a}")).await;
    assert!(only_a.body.contains("共 60 条"));
    assert!(!only_a.body.contains("batch-b1</a>"));
    let a_page2 = b.get(&format!("/admin/cards?product={a}&page=2")).await;
    assert_eq!(rows_in(&a_page2.body), 10);
    assert!(a_page2.body.contains(">****0000<"));
    for (query, total) in [
        (format!("product={a}&status=sold"), 5),
        (format!("product={a}&status=void"), 3),
        (format!("product={a}&status=available"), 52),
        (format!("product={bp}&status=available"), 2),
        ("status=void".to_owned(), 3),
        ("batch=batch-a1".to_owned(), 40),
        ("batch=batch-a1&status=available".to_owned(), 32),
        (format!("batch=batch-a2&product={a}"), 20),
        (format!("batch=batch-a2&product={bp}"), 0),
        ("batch=nope".to_owned(), 0),
    ] {
        let page = b.get(&format!("/admin/cards?{query}")).await;
        assert_eq!(page.status, 200, "{query}");
        assert!(
            page.body.contains(&format!("共 {total} 条")),
            "{query}: {total}"
        );
        assert_eq!(rows_in(&page.body), total.min(50), "{query}");
        assert_no_secret(&page.body, &secrets);
        assert_no_fragment(&page.body, &secrets);
    }
    // Sold rows keep their sale time; status filter rows all carry the badge.
    let sold = b
        .get(&format!("/admin/cards?product={a}&status=sold"))
        .await;
    assert_eq!(sold.body.matches("badge succeeded").count(), 5);
    // The batch panel counts the batch's cards by status.
    let panel = b.get("/admin/cards?batch=batch-a1").await;
    assert!(
        panel
            .body
            .contains("可用 <strong>32</strong> 张，已售 5 张，作废 3 张，已导出 0 张")
    );
    // Bad filters are ignored with a note.
    let bad = b.get("/admin/cards?product=abc&status=lost&page=x").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("商品参数无效"));
    assert!(bad.body.contains("无法识别的卡密状态"));
    assert_eq!(rows_in(&bad.body), 50);

    // Raising the threshold above the stock highlights it (after a write through the admin:
    // the stock table is cached for a few seconds).
    exec(
        &app,
        &format!("UPDATE products SET low_stock_threshold = 53 WHERE id = {a}"),
    )
    .await;
    let op = &b;
    let id: u64 = sqlx::query_scalar(
        "SELECT id FROM cards WHERE product_id = ? AND status = 'available' ORDER BY id LIMIT 1",
    )
    .bind(a)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = op.post(&format!("/admin/cards/{id}/void"), &[]).await;
    assert_eq!(r.status, 303);
    let after = op.get("/admin/cards").await;
    assert!(
        after.body.contains("<span class=\"badge bad\">51</span>"),
        "51 < 53 highlighted"
    );
    assert!(after.body.contains("库存不足"));
    assert!(after.body.contains("/void\""), "operators get the actions");
    assert_no_secret(&after.body, &secrets);
    app.stop().await;
}

#[tokio::test]
async fn totals_are_capped() {
    let app = App::start().await;
    let p = card_product(&app, "大库存商品", None).await;
    let key = common::testing::master_key();
    // 10,050 rows in one statement (the fixtures import card by card, far too slow here). One
    // sealed pair for all rows: it opens only in the row of its own fingerprint (the others
    // show as undecryptable), which is all a test of the totals needs.
    let fp = [0u8; 32];
    let (no, pw) = (
        common::db::cards::seal(
            &key,
            common::crypto::SealedColumn::CardNo,
            p,
            &fp,
            "CAPCARD000001",
        ),
        common::db::cards::seal(
            &key,
            common::crypto::SealedColumn::CardPassword,
            p,
            &fp,
            "CAPPASS000001",
        ),
    );
    let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
        UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
        UNION ALL SELECT 8 UNION ALL SELECT 9)";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint)
         SELECT {p}, 'big', ?, ?, UNHEX(SHA2(CONCAT('cap', k), 256))
         FROM (SELECT a.d + b.d * 10 + c.d * 100 + e.d * 1000 + f.d * 10000 AS k
               FROM {digits} a, {digits} b, {digits} c, {digits} e, {digits} f) t
         WHERE k < 10050"
    )))
    .bind(&no)
    .bind(&pw)
    .execute(&app.pool)
    .await
    .unwrap();
    admin::web::cards::forget_stock(&app.pool);
    let b = app.login("operator").await;
    for path in [
        "/admin/cards".to_owned(),
        format!("/admin/cards?product={p}"),
        "/admin/cards?batch=big".to_owned(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("超过 10,000 条"), "{path}");
        assert_eq!(rows_in(&page.body), 50);
        assert_no_secret(&page.body, &["CAPCARD000001", "CAPPASS000001"]);
    }
    let deep = b.get(&format!("/admin/cards?product={p}&page=200")).await;
    assert_eq!(rows_in(&deep.body), 50);
    assert!(deep.body.contains("10,050"), "stock counts exactly");
    app.stop().await;
}

#[tokio::test]
async fn void_one_card_or_a_batch_once() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", None).await;
    stock(
        &app,
        p,
        "batch-v",
        &[
            ("VOIDCARD0001", "VOIDPASS0001"),
            ("VOIDCARD0002", "VOIDPASS0002"),
            ("VOIDCARD0003", "VOIDPASS0003"),
            ("VOIDCARD0004", "VOIDPASS0004"),
        ],
    )
    .await;
    stock(&app, p, "batch-keep", &[("KEEPCARD0001", "KEEPPASS0001")]).await;
    let ids: Vec<u64> =
        sqlx::query_scalar("SELECT id FROM cards WHERE batch_id = 'batch-v' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    exec(
        &app,
        &format!("UPDATE cards SET status = 'sold' WHERE id = {}", ids[3]),
    )
    .await;
    let b = app.login("operator").await;
    let status = |id: u64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM cards WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // One card, twice: voided once, one audit row, back to the list it came from.
    let back = "/admin/cards?batch=batch-v&status=available";
    let first = b
        .post(&format!("/admin/cards/{}/void", ids[0]), &[("back", back)])
        .await;
    assert_eq!(first.location.as_deref(), Some(back));
    assert!(follow(&b, &first).await.contains("已作废"));
    let second = b
        .post(&format!("/admin/cards/{}/void", ids[0]), &[("back", back)])
        .await;
    assert!(follow(&b, &second).await.contains("已是作废状态"));
    assert_eq!(status(ids[0]).await, "void");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'card.void'")
            .await,
        1
    );
    // A sold card is never voided; an unknown card is a 404; a foreign back link is ignored.
    let sold = b
        .post(
            &format!("/admin/cards/{}/void", ids[3]),
            &[("back", "https://evil.example/")],
        )
        .await;
    assert_eq!(sold.location.as_deref(), Some("/admin/cards"));
    assert!(follow(&b, &sold).await.contains("已售出，不能作废"));
    assert_eq!(status(ids[3]).await, "sold");
    assert_eq!(b.post("/admin/cards/999999/void", &[]).await.status, 404);
    assert_eq!(b.post("/admin/cards/abc/void", &[]).await.status, 404);

    // The batch: its two remaining available cards, once.
    let a = b.post("/admin/cards/batches/batch-v/void", &[]).await;
    let page = follow(&b, &a).await;
    assert!(
        page.contains("已作废批次 batch-v 的 2 张可用卡密"),
        "{page}"
    );
    let a = b.post("/admin/cards/batches/batch-v/void", &[]).await;
    assert!(follow(&b, &a).await.contains("没有可作废的卡密"));
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM cards WHERE batch_id = 'batch-v' GROUP BY status ORDER BY status",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        by_status,
        vec![("sold".to_owned(), 1), ("void".to_owned(), 3)]
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM cards WHERE batch_id = 'batch-keep' AND status = 'available'"
        )
        .await,
        1
    );
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'card.void_batch' AND target_id = 'batch-v'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(detail.contains("2 张"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'card.void_batch'")
            .await,
        1
    );
    let a = b.post("/admin/cards/batches/no-such-batch/void", &[]).await;
    assert!(follow(&b, &a).await.contains("不存在"));
    app.stop().await;
}

#[tokio::test]
async fn export_holds_exactly_the_batch_available_cards() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", None).await;
    let text = "EXPCARD00001,EXPPASS00001\nEXPCARD00002,EXPPASS00002,2099-06-30\n\
                EXPCARD00003,EXPPASS00003\nEXPCARD00004,EXPPASS00004\nEXPCARD00005,EXPPASS00005\n";
    let r = fixtures::import_cards(&app.pool, p, "B-exp/1", text).await;
    assert_eq!(r.new, 5);
    stock(&app, p, "other", &[("OTHCARD00001", "OTHPASS00001")]).await;
    exec(
        &app,
        "UPDATE cards SET status = 'sold' WHERE batch_id = 'B-exp/1' ORDER BY id DESC LIMIT 2",
    )
    .await;
    exec(
        &app,
        "UPDATE cards SET status = 'void' WHERE batch_id = 'B-exp/1' AND status = 'available'
         ORDER BY id LIMIT 1",
    )
    .await;
    let b = app.login("operator").await;
    // The list links the batch's actions with its id as one path segment.
    let list = b.get("/admin/cards").await;
    assert!(list.body.contains("/admin/cards/batches/B-exp%2F1/export"));
    let a = b.post("/admin/cards/batches/B-exp%2F1/export", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let h = |k: &str| {
        a.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(h("content-disposition").starts_with("attachment;"));
    assert!(h("content-disposition").contains(".csv"));
    assert!(h("cache-control").contains("no-store"));
    assert!(h("content-type").starts_with("text/csv"));
    assert_eq!(
        a.body,
        "\u{feff}卡号,卡密,有效期\r\nEXPCARD00002,EXPPASS00002,2099-06-30\r\nEXPCARD00003,EXPPASS00003,\r\n"
    );
    let audit: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT username, target_id, detail FROM audit_log WHERE action = 'card.export'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "operator");
    assert_eq!(audit[0].1.as_deref(), Some("B-exp/1"));
    let detail = audit[0].2.clone().unwrap();
    assert!(detail.contains("2 张"), "{detail}");
    assert!(detail.contains("已标记为已导出"), "{detail}");
    assert_no_secret(&detail, &["EXPCARD00002", "EXPPASS00003"]);
    // The exported cards left the sellable stock: `exported`, never picked for an order.
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM cards WHERE batch_id = 'B-exp/1' GROUP BY status ORDER BY status",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        by_status,
        vec![
            ("exported".to_owned(), 2),
            ("sold".to_owned(), 2),
            ("void".to_owned(), 1)
        ]
    );
    assert_eq!(
        common::db::cards::available_at_least(&app.pool, p, 10)
            .await
            .unwrap(),
        1,
        "only the other batch's card is sellable"
    );
    let panel = b.get("/admin/cards?batch=B-exp%2F1").await;
    assert!(panel.body.contains("已导出 2 张"), "{}", panel.body);
    assert!(panel.body.contains("badge warn\">已导出"));
    // Exporting again finds nothing left: a message, no file, no audit row.
    let twice = b.post("/admin/cards/batches/B-exp%2F1/export", &[]).await;
    assert!(
        follow(&b, &twice)
            .await
            .contains("没有可用（未售出）的卡密")
    );
    // The file reads back as the same cards: all already in stock.
    let again = preview(&b, upload(&b, p, "export.csv", a.body.into_bytes())).await;
    assert_eq!(counts(&again.body), (0, 0, 2, 0));
    assert!(again.body.contains("本商品库存中已有（已导出）"));

    // "Keep them available": the same file, the cards still sellable, audited as kept.
    let kept = b
        .post("/admin/cards/batches/other/export", &[("keep", "1")])
        .await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert!(kept.body.contains("OTHCARD00001,OTHPASS00001,"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cards WHERE batch_id = 'other' AND status = 'available'")
            .await,
        1
    );
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'card.export' AND target_id = 'other'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        detail.contains("1 张") && detail.contains("仍保留为可用"),
        "{detail}"
    );
    // Nothing unsold: a message, no file, no audit row.
    exec(
        &app,
        "UPDATE cards SET status = 'sold' WHERE batch_id = 'other'",
    )
    .await;
    let none = b.post("/admin/cards/batches/other/export", &[]).await;
    assert!(follow(&b, &none).await.contains("没有可用（未售出）的卡密"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'card.export'")
            .await,
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn viewers_are_refused_every_card_write() {
    let app = App::start().await;
    let p = card_product(&app, "腾讯Q币10元", None).await;
    stock(&app, p, "batch-x", &[("VIEWCARD0001", "VIEWPASS0001")]).await;
    let op = app.login("operator").await;
    let a = preview(&op, paste(&op, p, "VIEWCARD0002,VIEWPASS0002")).await;
    let draft = draft_of(&a.body);
    let id: u64 = sqlx::query_scalar("SELECT id FROM cards LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let audits = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action NOT LIKE 'login%'")
        .await;
    let drafts = app.count("SELECT COUNT(*) FROM card_import_drafts").await;

    let v = app.login("viewer").await;
    // Not even the masked list: cards are the operators' business.
    for path in [
        "/admin/cards".to_owned(),
        format!("/admin/cards?product={p}"),
        "/admin/cards?batch=batch-x".to_owned(),
        "/admin/cards/import".to_owned(),
    ] {
        let a = v.get(&path).await;
        assert_eq!(a.status, 403, "{path}");
        assert_no_fragment(&a.body, &["VIEWCARD0001", "VIEWPASS0001"]);
    }
    let home = v.get("/admin/").await;
    assert!(
        !home.body.contains("href=\"/admin/cards"),
        "no link for viewers"
    );
    assert!(
        op.get("/admin/")
            .await
            .body
            .contains("href=\"/admin/cards\""),
        "operators have the link"
    );
    let a = preview(&v, paste(&v, p, "VIEWCARD0003,VIEWPASS0003")).await;
    assert_eq!(a.status, 403);
    for path in [
        "/admin/cards/import/commit".to_owned(),
        format!("/admin/cards/{id}/void"),
        "/admin/cards/batches/batch-x/void".to_owned(),
        "/admin/cards/batches/batch-x/export".to_owned(),
    ] {
        let a = v.post(&path, &[("draft", &draft)]).await;
        assert_eq!(a.status, 403, "{path}");
        assert_no_secret(&a.body, &["VIEWCARD0001", "VIEWPASS0001"]);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action NOT LIKE 'login%'")
            .await,
        audits
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_drafts").await,
        drafts
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cards WHERE status = 'available'")
            .await,
        1
    );
    // Without the session's CSRF token even an operator is refused.
    let a = op
        .post_raw(&format!("/admin/cards/{id}/void"), &[("_csrf", "forged")])
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cards WHERE status = 'available'")
            .await,
        1
    );
    app.stop().await;
}

/// 100,000 cards through the page: preview and commit, every card stored once (the draft is
/// split into parts). How long it takes is measured by `bench-admin`, not here.
#[tokio::test]
async fn a_hundred_thousand_cards_import_whole() {
    let app = App::start().await;
    let p = card_product(&app, "大批量商品", None).await;
    let b = app.login("operator").await;
    let mut text = String::with_capacity(100_000 * 40);
    text.push_str("卡号,卡密,有效期\n");
    for i in 0..100_000 {
        text.push_str(&format!("BULKCARD{i:010},BULKPASS{i:014},2099-12-31\n"));
    }
    let a = preview(&b, upload(&b, p, "bulk.csv", text.into_bytes())).await;
    assert_eq!(a.status, 200);
    assert_eq!(counts(&a.body), (100_000, 0, 0, 0));
    let draft = draft_of(&a.body);
    let done = b
        .post("/admin/cards/import/commit", &[("draft", &draft)])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cards WHERE product_id = {p}"
        ))
        .await,
        100_000
    );
    app.stop().await;
}

/// A product sold on 游戏点卡 takes only cards JD 游戏点卡 accepts: the preview counts a card
/// number with other characters as invalid, with the reason.
#[tokio::test]
async fn preview_applies_jd_game_card_rules_to_game_products() {
    let app = App::start().await;
    let product = Product::card("游戏点卡商品")
        .face_value(1000)
        .price(Some(1000))
        .sku(common::domain::Platform::JdGame, "77001")
        .insert(&app.pool)
        .await;
    let b = app.login("operator").await;
    let a = preview(
        &b,
        paste(&b, product, "GOOD-CARD_1,PASS-1\nBAD#CARD2,PASS-2\n"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(counts(&a.body), (1, 0, 0, 1));
    assert!(
        a.body
            .contains("京东游戏点卡的卡号只能包含英文字母、数字、- 和 _"),
        "{}",
        a.body
    );
    app.stop().await;
}

/// Asserts the page shows neither a password's first 4 characters nor a card number's: masked
/// cards show nothing of a password and at most the last 4 of a number. `values`
/// alternate number, password (as the tests' card lists do).
fn assert_no_fragment(page: &str, values: &[&str]) {
    for pair in values.chunks(2) {
        let chars: Vec<char> = pair[0].chars().collect();
        let head: String = chars[..4].iter().collect();
        assert!(
            !page.contains(&head),
            "page shows the start of card {}",
            pair[0]
        );
        if let Some(pw) = pair.get(1) {
            let chars: Vec<char> = pw.chars().collect();
            let head: String = chars[..4].iter().collect();
            assert!(
                !page.contains(&head),
                "page shows the start of password {pw}"
            );
        }
    }
}

/// The migration that makes fingerprints unique across products, over a database holding the
/// same cards in several products (what the per-product key allowed): a sold copy, else the
/// earliest available one, else the earliest keeps the fingerprint, the others keep their rows
/// with a retired one; an available copy survives only as the kept copy of a card never sold; a
/// sold copy stays with its order.
#[tokio::test]
async fn migration_settles_cards_held_by_several_products() {
    const MINE: &str = "20261202000200_card_fingerprint_global.sql";
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let db = common::testing::TestDb::create().await;
    let pool = db.pool().await;
    let mut conn = pool.acquire().await.unwrap();
    let run = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    for f in files.iter().filter(|f| f.as_str() < MINE) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(run(f)))
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    sqlx::raw_sql(
        "INSERT INTO products (id, name, mode) VALUES (1, '甲', 'card'), (2, '乙', 'card'),
            (3, '丙', 'card')",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let key = common::testing::master_key();
    let fp = |no: &str, pw: &str| {
        key.fingerprint(&common::domain::card_import::fingerprint_input(
            &common::domain::card_import::CardLine {
                card_no: no.into(),
                password: pw.into(),
                expires_on: None,
            },
        ))
    };
    // (id, product, card, status): card 1 in three products, never sold; card 2 sold in a
    // later copy; card 3 held once.
    let rows = [
        (1u64, 1u64, ("MIGCARD0001", "MIGPASS0001"), "available"),
        (2, 2, ("MIGCARD0001", "MIGPASS0001"), "available"),
        (3, 3, ("MIGCARD0001", "MIGPASS0001"), "void"),
        (4, 1, ("MIGCARD0002", "MIGPASS0002"), "available"),
        (5, 2, ("MIGCARD0002", "MIGPASS0002"), "sold"),
        (6, 1, ("MIGCARD0003", "MIGPASS0003"), "available"),
        // Card 4: voided in one product, then imported into another, never sold.
        (7, 1, ("MIGCARD0004", "MIGPASS0004"), "void"),
        (8, 2, ("MIGCARD0004", "MIGPASS0004"), "available"),
    ];
    for (id, product, (no, pw), status) in rows {
        sqlx::query(
            "INSERT INTO cards (id, product_id, batch_id, card_no_enc, card_pass_enc,
                fingerprint, status, order_id)
             VALUES (?, ?, 'old', ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(product)
        .bind(common::db::cards::seal(
            &key,
            common::crypto::SealedColumn::CardNo,
            product,
            &fp(no, pw),
            no,
        ))
        .bind(common::db::cards::seal(
            &key,
            common::crypto::SealedColumn::CardPassword,
            product,
            &fp(no, pw),
            pw,
        ))
        .bind(fp(no, pw).as_slice())
        .bind(status)
        .bind((status == "sold").then_some(77u64))
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(run(MINE)))
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    let after: Vec<(u64, String, Option<u64>, Vec<u8>)> =
        sqlx::query_as("SELECT id, status, order_id, fingerprint FROM cards ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let statuses: Vec<(u64, &str)> = after.iter().map(|r| (r.0, r.1.as_str())).collect();
    assert_eq!(
        statuses,
        vec![
            (1, "available"),
            (2, "void"),
            (3, "void"),
            (4, "void"),
            (5, "sold"),
            (6, "available"),
            (7, "void"),
            (8, "available")
        ]
    );
    assert_eq!(after[4].2, Some(77), "the sale keeps its order");
    let real = |id: usize, no: &str, pw: &str| after[id].3 == fp(no, pw).as_slice();
    assert!(
        real(0, "MIGCARD0001", "MIGPASS0001"),
        "the earliest keeps it"
    );
    assert!(!real(1, "MIGCARD0001", "MIGPASS0001") && !real(2, "MIGCARD0001", "MIGPASS0001"));
    // A sold copy keeps the card's identity; an available copy outlives an earlier void one.
    assert!(!real(3, "MIGCARD0002", "MIGPASS0002") && real(4, "MIGCARD0002", "MIGPASS0002"));
    assert!(real(5, "MIGCARD0003", "MIGPASS0003"));
    assert!(!real(6, "MIGCARD0004", "MIGPASS0004") && real(7, "MIGCARD0004", "MIGPASS0004"));
    // Still refused as a duplicate anywhere, naming the product holding the kept copy.
    let r = fixtures::import_cards(&pool, 3, "new", "MIGCARD0001,MIGPASS0001\n").await;
    assert_eq!((r.new, r.duplicate), (0, 1));
    assert_eq!(r.held_elsewhere, vec![("甲".to_owned(), 1)]);
    pool.close().await;
    db.drop_database().await;
}
