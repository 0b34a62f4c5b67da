//! The back office web site: `/admin/...` pages, server-rendered with askama, every asset served
//! by the admin itself (operators may be on closed networks).
//!
//! Each area has its own module exposing `routes()` (with full `/admin/...` paths), merged here. Every route but the login page
//! and static files passes [`auth::guard`] (session + CSRF); handlers that write take an
//! [`auth::Operator`] or [`auth::AdminUser`] extractor, so the role check is in their signature.

pub mod account;
pub mod agiso;
pub mod audit;
pub mod auth;
pub mod callbacks;
pub mod cards;
pub mod dashboard;
pub mod dead_letters;
pub mod error;
pub mod form;
pub mod html;
pub mod orders;
pub mod page;
pub mod products;
pub mod select;
pub mod shops;
pub mod snapshot;
pub mod token;
pub mod urls;
pub mod user;
pub mod users;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use common::crypto::at_rest::MasterKey;
use common::db::Pool;
use common::mq::Mq;
use common::mq::outbox::OutboxSignal;
use common::service::Infra;

use crate::Config;
pub use error::{WebError, WebResult};

pub struct Inner {
    pub db: Pool,
    pub key: MasterKey,
    pub mq: Arc<Mq>,
    /// Wakes the local outbox relay after an action committed outbox rows.
    pub outbox: OutboxSignal,
    pub config: Config,
    /// A back-office user exists (cached once true, [`auth::no_user_yet`]).
    pub user_exists: std::sync::atomic::AtomicBool,
    /// agiso-sync's operator endpoints, when `AGISO_SYNC_URL` is set.
    pub agiso: Option<agiso::client::AgisoSync>,
}

/// The state every handler gets.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(infra: &Infra, config: Config) -> AppState {
        AppState(Arc::new(Inner {
            db: infra.db.clone(),
            key: config.common.master_key.clone(),
            mq: infra.mq.clone(),
            outbox: infra.outbox.clone(),
            agiso: agiso::client::AgisoSync::from_config(&config),
            config,
            user_exists: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}

/// The whole site.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_upload_bytes;
    let admin = Router::new()
        .route(
            "/admin/login",
            get(auth::login_form)
                .post(auth::login_submit)
                .layer(DefaultBodyLimit::max(auth::LOGIN_BODY_LIMIT)),
        )
        .route("/admin/logout", post(auth::logout))
        .route("/admin/static/{file}", get(static_file))
        .merge(dashboard::routes())
        .merge(orders::routes())
        .merge(agiso::routes())
        .merge(cards::routes())
        .merge(products::routes())
        .merge(shops::routes())
        .merge(urls::routes())
        .merge(callbacks::routes())
        .merge(dead_letters::routes())
        .merge(audit::routes())
        .merge(users::routes())
        .merge(account::routes())
        .fallback(|| async { WebError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state);
    Router::new()
        .route("/", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .merge(admin)
}

/// Headers on every admin response: no framing, no sniffing, only our own scripts and styles.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

async fn static_file(Path(file): Path<String>) -> Response {
    let (body, ct) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return WebError::NotFound.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
