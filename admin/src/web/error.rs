//! The one error type of the web handlers. Internal errors are logged with their cause and shown
//! to the operator as a generic Chinese page; nothing internal (SQL, secrets) reaches the browser.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use askama::Template;
use axum::response::Html;

use super::html::html_headers;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    /// The user's role may not do this.
    #[error("forbidden")]
    Forbidden,
    /// Missing or wrong CSRF token.
    #[error("csrf")]
    Csrf,
    #[error("too many requests")]
    RateLimited,
    /// The input cannot be used; the message is Chinese and shown as is.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("internal: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for WebError {
    fn from(e: sqlx::Error) -> Self {
        WebError::Internal(e.into())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(e.into())
    }
}

impl WebError {
    pub fn bad(msg: impl Into<String>) -> Self {
        WebError::BadRequest(msg.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match &self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "页面不存在",
                "您访问的页面或记录不存在。".to_owned(),
            ),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                "没有权限",
                "您的角色无权执行此操作，如需权限请联系管理员。".to_owned(),
            ),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "请求已失效",
                "表单校验失败（CSRF），请刷新页面后重试。".to_owned(),
            ),
            WebError::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "操作过于频繁",
                "请稍后再试。".to_owned(),
            ),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, "无法处理", m.clone()),
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "admin request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "系统错误",
                    "处理请求时出错，已记录日志，请稍后重试。".to_owned(),
                )
            }
        };
        if !matches!(self, WebError::Internal(_)) {
            tracing::warn!(status = status.as_u16(), error = %self, "admin request refused");
        }
        error_page(status, title, &detail)
    }
}

pub type WebResult<T> = Result<T, WebError>;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: &'a str,
}

pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = ErrorPage { title, detail }
        .render()
        .unwrap_or_else(|_| title.to_owned());
    html_headers((status, Html(body)).into_response())
}
