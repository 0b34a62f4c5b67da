//! The operator's order actions: 手动成功, 手动失败, 重发回调, 重新履约.
//!
//! Each one locks the order row, checks the state machine, and commits the change, its
//! timeline event, its outbox message and its audit row in ONE transaction, through the same
//! `common::db::orders` functions the services use (`finish_succeeded` / `finish_failed` enqueue
//! `order.completed.<platform>`, which makes the notifier or agiso-sync tell the platform).
//!
//! Double submits: every action form carries a one-time submission id (`once`), recorded in the
//! action's audit row. A second submit with the same id finds that row under the order's lock
//! and changes nothing; a final order refuses every state change anyway.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDate;
use common::db::Tx;
use common::db::cards;
use common::db::orders::{self, OrderError, OrderRow};
use common::domain::card_import::{self, CardLine};
use common::domain::{FailureReason, OrderStatus, Platform};
use common::mq::{Event, EventType};

use super::plan::{ProductKind, live_supplier_orders, refulfil_plan, supplier_has_it};
use super::{order_id, order_url, status_label};
use crate::web::auth::{CurrentUser, Operator};
use crate::web::form::FormFields;
use crate::web::page::{redirect_error, redirect_ok};
use crate::web::{AppState, WebError, WebResult};

/// The longest operator note kept.
const NOTE_MAX_CHARS: usize = 200;

/// The one-time submission id the order page put in the form.
fn submission_id(form: &FormFields) -> Option<String> {
    let v = form.get("once");
    (v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// The audit detail: the description plus the submission id that recognises a repeat.
fn detail_with_once(text: &str, once: &str) -> String {
    format!("{text}（提交号 {once}）")
}

/// Whether this very form was already carried out (its audit row exists).
async fn already_done(tx: &mut Tx, id: u64, action: &str, once: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log
         WHERE target_type = 'order' AND target_id = ? AND action = ? AND detail LIKE ?",
    )
    .bind(id.to_string())
    .bind(action)
    .bind(format!("%（提交号 {once}）"))
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// An order locked for an action, in the action's transaction.
struct Locked {
    tx: Tx,
    order: OrderRow,
    status: OrderStatus,
    platform: Platform,
    /// The form's one-time submission id.
    once: String,
}

/// The locked order, or the answer when there is nothing to do.
enum Start {
    Go(Box<Locked>),
    Answer(Response),
}

/// Common start of every action: a valid form id, the order locked, not already done.
async fn start(
    state: &AppState,
    raw_id: &str,
    action: &str,
    form: &FormFields,
) -> WebResult<Start> {
    let id = order_id(raw_id)?;
    let back = order_url(id);
    let Some(once) = submission_id(form) else {
        return Ok(Start::Answer(redirect_error(
            &back,
            "表单已失效，请刷新页面后重新操作。",
        )));
    };
    let mut tx = state.db.begin().await?;
    let Some(order) = orders::lock(&mut tx, id).await? else {
        return Err(WebError::NotFound);
    };
    if already_done(&mut tx, id, action, &once).await? {
        return Ok(Start::Answer(redirect_ok(
            &back,
            "该操作已经提交过（重复提交），本次未做任何更改。",
        )));
    }
    let (Ok(status), Ok(platform)) = (
        order.status.parse::<OrderStatus>(),
        order.platform.parse::<Platform>(),
    ) else {
        return Err(WebError::bad("订单的状态或平台无法识别，无法操作。"));
    };
    Ok(Start::Go(Box::new(Locked {
        tx,
        order,
        status,
        platform,
        once,
    })))
}

fn order_error(e: OrderError) -> WebError {
    match e {
        OrderError::Transition(t) => {
            tracing::warn!(error = %t, "order action refused by the state machine");
            WebError::bad("订单状态不允许此操作（可能刚被其他操作改变），请刷新页面后重试。")
        }
        OrderError::Db(e) => e.into(),
    }
}

/// Manual success or failure of a `processing` order a supplier holds (submitted, answer not
/// in yet) is refused: succeeding could charge twice, failing makes JD refund an order the
/// supplier may still recharge. Checked under the order's lock, which the supplier submit also
/// takes (fulfillment's `submit_locked`), so the two never cross.
async fn supplier_refusal(
    tx: &mut Tx,
    back: &str,
    order: &orders::OrderRow,
    status: OrderStatus,
) -> WebResult<Option<Response>> {
    if status != OrderStatus::Processing || !supplier_has_it(&mut **tx, order.id).await? {
        return Ok(None);
    }
    Ok(Some(redirect_error(
        back,
        "供应商正在处理该订单（已提交，结果未定）：为避免重复充值或退款后仍被充值，现在不能手动成功或失败。\
         请等待供应商的结果；超过供应商处理时限后订单会转为“等待人工”，届时先到供应商后台核实再操作。",
    )))
}

fn final_refusal(back: &str, status: OrderStatus) -> Response {
    redirect_error(
        back,
        format!(
            "订单已是最终状态（{}），不能再更改，本次未做任何更改。",
            status.label_zh()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// 手动成功

/// `POST /admin/orders/{id}/succeed`: a card order gets the pasted cards (exactly its
/// quantity, stored encrypted as sold cards of its product); a direct order needs the
/// operator's confirmation. Then the order succeeds like fulfilment ends it.
pub async fn succeed(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let form = FormFields::parse(&body);
    let Locked {
        mut tx,
        order,
        status,
        platform,
        once,
    } = match start(&state, &raw_id, "order.succeed", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if status.is_final() {
        return Ok(final_refusal(&back, status));
    }
    if let Some(r) = supplier_refusal(&mut tx, &back, &order, status).await? {
        return Ok(r);
    }
    let note = form.text("note", NOTE_MAX_CHARS);
    let (event_note, detail) = if order.order_kind == "card" {
        let today = crate::web::page::beijing_today();
        let jd_game = platform == Platform::JdGame;
        let cards = match manual_cards(form.get("cards"), order.quantity, today, jd_game) {
            Ok(c) => c,
            Err(msg) => return Ok(redirect_error(&back, msg)),
        };
        if let Err(msg) = store_cards(&state, &mut tx, &order, &user, &cards).await? {
            return Ok(redirect_error(&back, msg));
        }
        let text = format!("手动成功：录入 {} 张卡密", cards.len());
        (with_note(&text, &note), with_note(&text, &note))
    } else {
        if form.get("confirm") != "1" {
            return Ok(redirect_error(
                &back,
                "请勾选「已完成充值」确认后再提交手动成功。",
            ));
        }
        let text = "手动成功：操作员确认已完成充值";
        (with_note(text, &note), with_note(text, &note))
    };
    orders::finish_succeeded(
        &mut tx,
        order.id,
        status,
        platform,
        &user.actor(),
        Some(&event_note),
    )
    .await
    .map_err(order_error)?;
    user.audit(
        &mut *tx,
        "order.succeed",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(&detail, &once)),
    )
    .await?;
    tx.commit().await?;
    state.outbox.notify();
    tracing::info!(user = %user.username, order_id = order.id, "order succeeded by hand");
    Ok(redirect_ok(&back, "订单已手动成功，成功结果将通知平台。"))
}

fn with_note(text: &str, note: &str) -> String {
    if note.is_empty() {
        text.to_owned()
    } else {
        format!("{text}；备注：{note}")
    }
}

/// The pasted cards: every line valid, no line twice, exactly `quantity` cards; for a 游戏点卡
/// order (`jd_game`), also cards JD 游戏点卡 accepts (the import's rule,
/// [`card_import::jd_game_problem`]).
fn manual_cards(
    text: &str,
    quantity: i32,
    today: NaiveDate,
    jd_game: bool,
) -> Result<Vec<CardLine>, String> {
    let (cards, mut invalid) = card_import::parse_file(text, today);
    if jd_game {
        for (line_no, card) in &cards {
            if let Some(reason) = card_import::jd_game_problem(card) {
                invalid.push(card_import::InvalidLine {
                    line_no: *line_no,
                    reason,
                });
            }
        }
        invalid.sort_by_key(|l| l.line_no);
    }
    if !invalid.is_empty() {
        let shown: Vec<String> = invalid
            .iter()
            .take(5)
            .map(|l| format!("第 {} 行：{}", l.line_no, l.reason))
            .collect();
        return Err(format!(
            "卡密格式有误，未做任何更改。{}{}",
            shown.join("；"),
            if invalid.len() > 5 { "……" } else { "" }
        ));
    }
    let expected = usize::try_from(quantity).unwrap_or(0);
    if cards.len() != expected {
        return Err(format!(
            "该订单需要 {expected} 张卡密，实际提交了 {} 张，未做任何更改。",
            cards.len()
        ));
    }
    let mut seen = HashSet::new();
    for (line_no, card) in &cards {
        if !seen.insert(card_import::fingerprint_input(card)) {
            return Err(format!("第 {line_no} 行与前面的卡密重复，未做任何更改。"));
        }
    }
    Ok(cards.into_iter().map(|(_, c)| c).collect())
}

/// Stores the cards as sold to the order (encrypted with the master key and fingerprinted
/// exactly as imports are), under the batch `manual-<order_no>`. `Ok(Err(msg))` refuses, also
/// when a card is already in stock anywhere (any product, any status: a card is sold once).
async fn store_cards(
    state: &AppState,
    tx: &mut Tx,
    order: &OrderRow,
    user: &CurrentUser,
    cards: &[CardLine],
) -> WebResult<Result<(), String>> {
    let Some(product_id) = order.product_id else {
        return Ok(Err(
            "订单没有对应的商品，无法录入卡密；请改用「手动失败」。".into(),
        ));
    };
    if common::db::products::get(&mut **tx, product_id)
        .await?
        .is_none()
    {
        return Ok(Err(
            "订单的商品已不存在，无法录入卡密；请改用「手动失败」。".into(),
        ));
    }
    let issued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE order_id = ? AND status = 'sold'")
            .bind(order.id)
            .fetch_one(&mut **tx)
            .await?;
    if issued > 0 {
        return Ok(Err(format!(
            "该订单已有 {issued} 张已发放的卡密，不能再录入；请核对后处理。"
        )));
    }
    let key = &state.key;
    let prints: Vec<[u8; 32]> = cards
        .iter()
        .map(|c| key.fingerprint(&card_import::fingerprint_input(c)))
        .collect();
    // A card already in stock, of any product and in any status, was or can be sold elsewhere.
    let held = common::db::cards::held(tx, &prints).await?;
    if !held.is_empty() {
        let lines: Vec<(usize, &common::db::cards::Holder)> = prints
            .iter()
            .enumerate()
            .filter_map(|(i, fp)| held.get(fp).map(|h| (i + 1, h)))
            .collect();
        let shown: Vec<String> = lines
            .iter()
            .take(5)
            .map(|(line, h)| {
                format!(
                    "第 {line} 张已在商品「{}」的库存中（{}）",
                    h.product_name,
                    h.status.map(|s| s.label_zh()).unwrap_or("未知")
                )
            })
            .collect();
        return Ok(Err(format!(
            "有 {} 张卡密已在库存中，同一张卡密只能售出一次，未做任何更改：{}{}；请核对后重新粘贴。",
            lines.len(),
            shown.join("；"),
            if lines.len() > 5 { "……" } else { "" }
        )));
    }
    let batch_id = format!("manual-{}", order.order_no);
    sqlx::query(
        "INSERT INTO card_batches (id, product_id, source, imported_by, total_lines, inserted)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&batch_id)
    .bind(product_id)
    .bind(format!("手动成功（订单 {}）", order.order_no))
    .bind(&user.username)
    .bind(cards.len() as i64)
    .bind(cards.len() as i64)
    .execute(&mut **tx)
    .await?;
    let with_prints: Vec<(&CardLine, [u8; 32])> =
        cards.iter().zip(prints.iter().copied()).collect();
    let sold = cards::NewCardsFor::SoldTo(order.id);
    match cards::insert_cards(tx, key, product_id, &batch_id, &with_prints, sold).await {
        Ok(_) => {}
        // Imported (into any product) concurrently since the check above.
        Err(e) if common::db::is_unique_violation(&e) => {
            return Ok(Err(
                "有卡密刚被导入库存，同一张卡密只能售出一次，未做任何更改；请核对后重新粘贴。"
                    .into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Ok(()))
}

// ---------------------------------------------------------------------------------------------
// 手动失败

/// `POST /admin/orders/{id}/fail`: ends the order failed with a reason (and optional note),
/// like the services do; the platform is told (and refunds).
pub async fn fail(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let form = FormFields::parse(&body);
    let Locked {
        mut tx,
        order,
        status,
        platform,
        once,
    } = match start(&state, &raw_id, "order.fail", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if status.is_final() {
        return Ok(final_refusal(&back, status));
    }
    if let Some(r) = supplier_refusal(&mut tx, &back, &order, status).await? {
        return Ok(r);
    }
    let Ok(reason) = form.get("reason").parse::<FailureReason>() else {
        return Ok(redirect_error(&back, "请选择失败原因。"));
    };
    let note = form.text("note", NOTE_MAX_CHARS);
    // The text the platform may show (游戏点卡) and operators see: the reason, then the note.
    let text: String = if note.is_empty() {
        reason.label_zh().to_owned()
    } else {
        format!("{}：{note}", reason.label_zh())
    }
    .chars()
    .take(255)
    .collect();
    orders::finish_failed(
        &mut tx,
        order.id,
        status,
        platform,
        reason,
        &text,
        &user.actor(),
    )
    .await
    .map_err(order_error)?;
    user.audit(
        &mut *tx,
        "order.fail",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(
            &format!("手动失败：{}（{}）", text, reason.as_str()),
            &once,
        )),
    )
    .await?;
    tx.commit().await?;
    state.outbox.notify();
    tracing::info!(user = %user.username, order_id = order.id, reason = reason.as_str(), "order failed by hand");
    Ok(redirect_ok(&back, "订单已手动失败，失败结果将通知平台。"))
}

// ---------------------------------------------------------------------------------------------
// 重发回调

/// `POST /admin/orders/{id}/resend`: a fresh callback schedule for a final JD order.
pub async fn resend(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let form = FormFields::parse(&body);
    let Locked {
        mut tx,
        order,
        status,
        platform,
        once,
    } = match start(&state, &raw_id, "order.resend", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if !status.is_final() {
        return Ok(redirect_error(
            &back,
            "订单尚未结束，没有可回调的结果，未做任何更改。",
        ));
    }
    if !matches!(platform, Platform::JdGeneral | Platform::JdGame) {
        return Ok(redirect_error(
            &back,
            "阿奇索订单由阿奇索同步服务发货，不通过京东回调，未做任何更改。",
        ));
    }
    if order.notify_status == "not_required" {
        return Ok(redirect_error(&back, "该订单无需回调通知，未做任何更改。"));
    }
    let (attempts, next_set): (i32, bool) = sqlx::query_as(
        "SELECT notify_attempts, notify_next_at IS NOT NULL FROM orders WHERE id = ?",
    )
    .bind(order.id)
    .fetch_one(&mut *tx)
    .await?;
    if order.notify_status == "pending" && attempts == 0 && next_set {
        return Ok(redirect_ok(
            &back,
            "回调已在发送队列中，无需重发，本次未做任何更改。",
        ));
    }
    if !common::db::notify::resend_order(&mut *tx, order.id).await? {
        return Err(WebError::bad("订单状态已变化，请刷新页面后重试。"));
    }
    user.audit(
        &mut *tx,
        "order.resend",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(
            &format!(
                "重发回调（订单{}，原回调状态 {}，已尝试 {attempts} 次）",
                status_label(status.as_str()),
                super::notify_label(&order.notify_status)
            ),
            &once,
        )),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, order_id = order.id, "callback resend scheduled");
    Ok(redirect_ok(
        &back,
        "已安排重发回调，回调服务将立即重新通知平台。",
    ))
}

// ---------------------------------------------------------------------------------------------
// 重新履约

/// `POST /admin/orders/{id}/refulfil`: puts a waiting or stuck order back where fulfilment
/// picks it up and enqueues `order.refulfil.<platform>` in the same transaction; fulfilment
/// handles it like a new order (and ignores it if the order moved on meanwhile).
pub async fn refulfil(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let form = FormFields::parse(&body);
    let Locked {
        mut tx,
        order,
        status,
        platform,
        once,
    } = match start(&state, &raw_id, "order.refulfil", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if status.is_final() {
        return Ok(final_refusal(&back, status));
    }
    let product = match order.product_id {
        Some(pid) => common::db::products::get(&mut *tx, pid).await?,
        None => None,
    };
    let kind = match &product {
        None => ProductKind::Missing,
        Some(p) => p
            .mode()
            .map(ProductKind::Mode)
            .unwrap_or(ProductKind::Unknown),
    };
    let live = live_supplier_orders(&mut *tx, order.id).await? > 0;
    let hops = match refulfil_plan(status, kind, live) {
        Ok(h) => h,
        Err(why) => return Ok(redirect_error(&back, format!("{why}未做任何更改。"))),
    };
    let actor = user.actor();
    let mut at = status;
    for to in &hops {
        orders::transition(&mut tx, order.id, at, *to, &actor, Some("重新履约"))
            .await
            .map_err(order_error)?;
        at = *to;
    }
    if hops.is_empty() {
        // Fulfilment acts on this status as it is: the timeline still shows who asked.
        orders::record_event(
            &mut tx,
            order.id,
            Some(status),
            status,
            &actor,
            Some("重新履约：重新提交履约"),
        )
        .await?;
    } else if let (Some(OrderStatus::AwaitingStock), Some(p)) = (hops.last(), &product) {
        // Waiting for stock gives up at the product's deadline, as fulfilment sets it.
        sqlx::query(
            "UPDATE orders SET stock_deadline_at = NOW(3) + INTERVAL ? SECOND WHERE id = ?",
        )
        .bind(p.stock_wait_seconds.max(0))
        .bind(order.id)
        .execute(&mut *tx)
        .await?;
    }
    common::mq::outbox::enqueue(
        &mut tx,
        &Event::new(EventType::OrderRefulfil, order.id, platform),
    )
    .await?;
    user.audit(
        &mut *tx,
        "order.refulfil",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(
            &format!("重新履约（原状态 {}）", status.label_zh()),
            &once,
        )),
    )
    .await?;
    tx.commit().await?;
    state.outbox.notify();
    tracing::info!(user = %user.username, order_id = order.id, "order handed back to fulfilment");
    Ok(redirect_ok(
        &back,
        "已重新提交履约，履约服务将重新处理该订单。",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn pasted_cards_must_match_the_quantity() {
        let ok = manual_cards("A1,P1\nA2 P2\n\n", 2, today(), false).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].password, "P2");
        let e = manual_cards("A1,P1", 2, today(), false).unwrap_err();
        assert!(e.contains("需要 2 张") && e.contains("1 张"), "{e}");
        let e = manual_cards("A1,P1\nbroken\n", 2, today(), false).unwrap_err();
        assert!(e.contains("第 2 行"), "{e}");
        let e = manual_cards("A1,P1\nA1,P1", 2, today(), false).unwrap_err();
        assert!(e.contains("重复"), "{e}");
        assert!(manual_cards("", 0, today(), false).unwrap().is_empty());
        // A 游戏点卡 order takes only cards JD 游戏点卡 accepts, as its import does.
        assert!(manual_cards("A#1,P1", 1, today(), false).is_ok());
        let e = manual_cards("A#1,P1", 1, today(), true).unwrap_err();
        assert!(e.contains("第 1 行") && e.contains("游戏点卡"), "{e}");
        assert!(manual_cards("A-1_b,P1", 1, today(), true).is_ok());
    }

    #[test]
    fn form_fields_and_once() {
        let f = FormFields::parse(&Bytes::from_static(
            b"once=0123456789ABCDEF0123456789abcdef&note=+hi+&x",
        ));
        assert_eq!(
            submission_id(&f).as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(f.text("note", 10), "hi");
        assert!(submission_id(&FormFields::parse(&Bytes::from_static(b"once=zz"))).is_none());
        assert!(submission_id(&FormFields::parse(&Bytes::from_static(b"\xff\xfe"))).is_none());
    }
}
