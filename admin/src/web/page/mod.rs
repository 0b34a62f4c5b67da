//! What every page shares: the chrome (user, role, CSRF token, navigation, flash message),
//! rendering with the right headers, redirects with a flash message; and, in its own files,
//! pagination with capped totals (`pager`), a small dynamic WHERE builder with the date filters'
//! bounds (`filter`) and display formatting (`format`: yuan, Beijing time, masks). Everything is
//! used as `page::...`.

mod filter;
mod format;
mod pager;

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use common::domain::Role;

pub use filter::{Arg, DayEnd, Where, beijing_day_start, bind_scalar_args, push_day_bound};
pub use format::{
    beijing, beijing_opt, beijing_today, mask, mask_card_no, mask_card_password, platform_label,
    thousands, yuan,
};
pub use pager::{COUNT_CAP, PageLink, Pager, count_capped, query_string};

use super::error::WebResult;
use super::html::html_headers;
use super::user::{CurrentUser, FLASH_COOKIE, Flash};

/// The navigation entries; the page sets which one is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Orders,
    Cards,
    Products,
    Shops,
    Agiso,
    Urls,
    Callbacks,
    DeadLetters,
    Audit,
    Users,
    Account,
}

impl Nav {
    pub fn key(self) -> &'static str {
        match self {
            Nav::Dashboard => "dashboard",
            Nav::Orders => "orders",
            Nav::Cards => "cards",
            Nav::Products => "products",
            Nav::Shops => "config",
            Nav::Agiso => "agiso",
            Nav::Urls => "urls",
            Nav::Callbacks => "callbacks",
            Nav::DeadLetters => "dead-letters",
            Nav::Audit => "audit",
            Nav::Users => "users",
            Nav::Account => "account",
        }
    }
}

/// The parts of the layout (`base.html`) every page template embeds as `chrome`.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub username: String,
    pub role: Role,
    pub csrf: String,
    pub nav: Nav,
    pub flash: Option<Flash>,
}

impl Chrome {
    pub fn new(user: &CurrentUser, nav: Nav) -> Chrome {
        Chrome {
            username: user.username.clone(),
            role: user.role,
            csrf: user.csrf.clone(),
            nav,
            flash: user.flash.clone(),
        }
    }

    /// `"active"` for the current navigation entry (a CSS class).
    pub fn active(&self, key: &str) -> &'static str {
        if self.nav.key() == key { "active" } else { "" }
    }

    pub fn role_label(&self) -> &'static str {
        self.role.label_zh()
    }

    pub fn can_operate(&self) -> bool {
        self.role >= Role::Operator
    }

    pub fn is_admin(&self) -> bool {
        self.role >= Role::Admin
    }
}

/// Renders a page template (HTTP 200).
pub fn render<T: Template>(t: &T) -> WebResult<Response> {
    Ok(html_headers(Html(t.render()?).into_response()))
}

/// A 303 redirect that shows `text` on the next page.
pub fn redirect_flash(to: &str, kind: &'static str, text: impl Into<String>) -> Response {
    let flash = Flash {
        kind,
        text: text.into(),
    };
    let cookie = format!(
        "{FLASH_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60",
        flash.cookie_value()
    );
    let mut resp = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub fn redirect_ok(to: &str, text: impl Into<String>) -> Response {
    redirect_flash(to, "ok", text)
}

pub fn redirect_error(to: &str, text: impl Into<String>) -> Response {
    redirect_flash(to, "error", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_round_trip() {
        let f = Flash {
            kind: "ok",
            text: "已保存；订单 1".into(),
        };
        let back = Flash::from_cookie_value(&f.cookie_value()).unwrap();
        assert_eq!((back.kind, back.text.as_str()), ("ok", "已保存；订单 1"));
        assert!(Flash::from_cookie_value("evil.zz").is_none());
    }
}
