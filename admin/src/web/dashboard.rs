//! 仪表盘.

use askama::Template;
use axum::Router;
use axum::response::Response;
use axum::routing::get;

use super::auth::CurrentUser;
use super::page::{self, Chrome, Nav};
use super::{AppState, WebResult};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/", get(show))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
}

async fn show(user: CurrentUser) -> WebResult<Response> {
    page::render(&DashboardPage {
        chrome: Chrome::new(&user, Nav::Dashboard),
    })
}
