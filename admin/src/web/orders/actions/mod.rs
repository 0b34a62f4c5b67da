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
//!
//! One file per action (`succeed`, `fail`, `resend`, `refulfil`); what they share is here.

mod fail;
mod refulfil;
mod resend;
mod succeed;

pub use fail::fail;
pub use refulfil::refulfil;
pub use resend::resend;
pub use succeed::succeed;

use axum::response::Response;
use common::db::Tx;
use common::db::orders::{self, OrderError, OrderRow};
use common::domain::{OrderStatus, Platform};

use crate::web::form::FormFields;
use crate::web::form::path_id;
use crate::web::orders::order_url;
use crate::web::orders::queries::{self, supplier_has_it};
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
    let id = path_id(raw_id)?;
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
    if queries::already_done(&mut tx, id, action, &once).await? {
        return Ok(Start::Answer(redirect_ok(
            &back,
            "该操作已经提交过（重复提交），本次未做任何更改。",
        )));
    }
    let (status, platform) = (order.status, order.platform);
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

/// An action's audit text with the operator's note, if any.
fn with_note(text: &str, note: &str) -> String {
    if note.is_empty() {
        text.to_owned()
    } else {
        format!("{text}；备注：{note}")
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;

    use super::*;

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
