//! 操作审计: the audit log (every operator and CLI write, every login, every reveal), newest
//! first, 50 a page, filtered by user, action, target and Beijing date. Each single filter reads
//! its rows in index order (`(username, created_at)`, `(action, created_at)`,
//! `(target_type, created_at)`, `(target_type, target_id)`, `(created_at)`).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;

use crate::web::auth::{CurrentUser, Role};
use crate::web::form::first;
use crate::web::page::{self, Arg, Chrome, DayEnd, Nav, PageLink, Pager, Where};
use crate::web::select::SelectOption;
use crate::web::{AppState, WebResult};

mod queries;

pub const PER_PAGE: u64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/audit", get(list))
}

/// Known actions and what they mean.
pub const ACTIONS: [(&str, &str); 45] = [
    ("login", "登录"),
    ("login.failed", "登录失败"),
    ("login.locked", "锁定期间尝试登录"),
    ("login.lockout", "连续输错被锁定"),
    ("logout", "退出登录"),
    ("account.password", "修改自己的密码"),
    ("account.password_failed", "修改密码时当前密码错误"),
    ("user.create", "创建用户"),
    ("user.role", "修改用户角色"),
    ("user.enable", "启用用户"),
    ("user.disable", "停用用户"),
    ("user.password_reset", "重置用户密码"),
    ("user.unlock", "解除用户锁定"),
    ("shop.create", "创建店铺"),
    ("shop.update", "修改店铺"),
    ("shop.resend_giving_up", "重发店铺已放弃的回调"),
    ("agiso.pull", "阿奇索拉取订单"),
    ("agiso.balance", "阿奇索余额自检"),
    ("agiso.stock", "查询阿奇索卡密库存"),
    ("agiso.deliver", "阿奇索立即发货"),
    ("agiso.status", "查询阿奇索发货状态"),
    ("setting.public_base_url", "修改公网地址"),
    ("dead_letter.replay", "重放死信"),
    ("dead_letter.discard", "丢弃死信"),
    ("order.succeed", "手动成功"),
    ("order.fail", "手动失败"),
    ("order.resend", "重发回调"),
    ("order.refulfil", "重新履约"),
    ("order.export", "导出订单"),
    ("card.import", "导入卡密"),
    ("cards.import", "导入卡密（命令行）"),
    ("card.reveal", "查看卡密"),
    ("card.export", "导出卡密"),
    ("card.void", "作废卡密"),
    ("card.void_batch", "作废整批卡密"),
    ("product.create", "创建商品"),
    ("product.update", "修改商品"),
    ("product.enable", "启用 / 停用商品"),
    ("product.sku_add", "添加商品 SKU"),
    ("product.sku_remove", "删除商品 SKU"),
    ("product.link_supplier", "关联供应商"),
    ("product.unlink_supplier", "取消关联供应商"),
    ("supplier.create", "创建供应商"),
    ("supplier.update", "修改供应商"),
    ("migrate", "数据库迁移"),
];

/// Target types and their names.
pub const TARGET_TYPES: [(&str, &str); 9] = [
    ("order", "订单"),
    ("shop", "店铺"),
    ("product", "商品"),
    ("card", "卡密"),
    ("card_batch", "卡密批次"),
    ("user", "用户"),
    ("supplier", "供应商"),
    ("dead_letter", "死信"),
    ("setting", "设置"),
];

fn action_label(a: &str) -> String {
    ACTIONS
        .iter()
        .find(|(v, _)| *v == a)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_default()
}

fn target_type_label(t: &str) -> String {
    TARGET_TYPES
        .iter()
        .find(|(v, _)| *v == t)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| t.to_owned())
}

/// Where a target is shown, if it has a page that `role` may open.
fn target_href(t: &str, id: &str, role: Role) -> Option<String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match t {
        "order" => Some(format!("/admin/orders/{id}")),
        "shop" => Some("/admin/config".to_owned()),
        "dead_letter" => Some(format!("/admin/dead-letters/{id}")),
        "product" => Some(format!("/admin/products/{id}")),
        "user" if role >= Role::Admin => Some("/admin/users".to_owned()),
        _ => None,
    }
}

pub struct Line {
    pub created: String,
    pub username: String,
    pub action: String,
    pub action_label: String,
    pub target: String,
    pub target_href: Option<String>,
    pub detail: String,
    pub ip: String,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct ListPage {
    chrome: Chrome,
    user: String,
    actions: Vec<SelectOption>,
    target_types: Vec<SelectOption>,
    target_id: String,
    from: String,
    to: String,
    notes: Vec<String>,
    lines: Vec<Line>,
    total: String,
    links: Vec<PageLink>,
    filtered: bool,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Vec<(String, String)>>,
) -> WebResult<Response> {
    let param = |name: &str| -> String { first(&q, name).trim().chars().take(64).collect() };
    let (username, action, target_type, target_id, from, to) = (
        param("user"),
        param("action"),
        param("target_type"),
        param("target_id"),
        param("from"),
        param("to"),
    );
    let mut w = Where::new();
    let mut notes = Vec::new();
    let mut kept: Vec<(&str, String)> = Vec::new();
    if !username.is_empty() {
        w.push("username = ?", [Arg::Str(username.clone())]);
        kept.push(("user", username.clone()));
    }
    if !action.is_empty() {
        w.push("action = ?", [Arg::Str(action.clone())]);
        kept.push(("action", action.clone()));
    }
    let known_type = TARGET_TYPES
        .iter()
        .find(|(v, _)| *v == target_type)
        .map(|(v, _)| *v);
    if let Some(t) = known_type {
        w.push("target_type = ?", [Arg::Str(t.to_owned())]);
        kept.push(("target_type", t.to_owned()));
        if !target_id.is_empty() {
            w.push("target_id = ?", [Arg::Str(target_id.clone())]);
            kept.push(("target_id", target_id.clone()));
        }
    } else if !target_type.is_empty() {
        notes.push("未知的对象类型，已忽略该筛选。".to_owned());
    } else if !target_id.is_empty() {
        notes.push("按对象编号筛选时请同时选择对象类型。".to_owned());
    }
    for (name, raw, end) in [("from", &from, DayEnd::From), ("to", &to, DayEnd::To)] {
        if raw.is_empty() {
            continue;
        }
        if page::push_day_bound(&mut w, end, raw) {
            kept.push((name, raw.clone()));
        } else {
            notes.push(format!(
                "日期「{raw}」格式不正确（应为 2026-11-25），已忽略。"
            ));
        }
    }
    let kept_refs: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let qs = page::query_string(&kept_refs);
    let base = if qs.is_empty() {
        "/admin/audit".to_owned()
    } else {
        format!("/admin/audit?{qs}")
    };
    let total = page::count_capped(&state.db, "audit_log", &w).await?;
    let pager = Pager::new(param("page").parse().ok(), PER_PAGE, total, base);
    let rows = queries::page(&state.db, &w, pager.per_page, pager.offset()).await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            let t = r.target_type.unwrap_or_default();
            let id = r.target_id.unwrap_or_default();
            Line {
                created: page::beijing(r.created_at),
                action_label: action_label(&r.action),
                action: r.action,
                username: r.username,
                target_href: target_href(&t, &id, user.role),
                target: if t.is_empty() {
                    String::new()
                } else {
                    format!("{} {id}", target_type_label(&t))
                },
                detail: r.detail.unwrap_or_default(),
                ip: r.ip.unwrap_or_default(),
            }
        })
        .collect();
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::Audit),
        actions: SelectOption::from_pairs(ACTIONS.iter().copied(), |v| v == action),
        target_types: SelectOption::from_pairs(TARGET_TYPES.iter().copied(), |v| {
            Some(v) == known_type
        }),
        user: username,
        target_id,
        from,
        to,
        notes,
        lines,
        total: pager.total_label(),
        links: pager.links(),
        filtered: !kept.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(action_label("shop.update"), "修改店铺");
        assert_eq!(action_label("nope"), "");
        assert_eq!(target_type_label("order"), "订单");
        assert_eq!(
            target_href("order", "12", Role::Viewer).as_deref(),
            Some("/admin/orders/12")
        );
        assert_eq!(target_href("order", "x\"y", Role::Admin), None);
        assert_eq!(target_href("user", "3", Role::Operator), None);
        assert_eq!(
            target_href("user", "3", Role::Admin).as_deref(),
            Some("/admin/users")
        );
        let mut seen = std::collections::HashSet::new();
        assert!(
            ACTIONS.iter().all(|(a, _)| seen.insert(*a)),
            "duplicate action"
        );
    }
}
