//! `POST /admin/orders/{id}/succeed`: 手动成功.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDate;
use common::db::Tx;
use common::db::cards;
use common::db::orders::{self, OrderRow};
use common::domain::card_import::{self, CardLine};
use common::domain::{OrderKind, Platform};

use super::*;
use crate::web::auth::{CurrentUser, Operator};
use crate::web::form::FormFields;
use crate::web::orders::order_url;
use crate::web::orders::queries;
use crate::web::page::{redirect_error, redirect_ok};
use crate::web::{AppState, WebResult};

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
    let (event_note, detail) = if order.order_kind == OrderKind::Card {
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
        orders::Ending::here(order.id, platform),
        status,
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
    let issued = queries::sold_card_count(tx, order.id).await?;
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
                    h.status.label_zh()
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
    queries::insert_manual_batch(
        tx,
        &batch_id,
        product_id,
        &format!("手动成功（订单 {}）", order.order_no),
        &user.username,
        cards.len() as i64,
    )
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
}
