//! Who is asking, as every page sees it: the logged-in user of the request and the one-time flash
//! message carried to the next page. A leaf module: authentication (`auth`) fills these in, the
//! layout (`page`) shows them.

use common::db::audit::{self, AuditEntry};
use common::domain::Role;

/// A one-time message shown on the next page (set by a redirect after a POST).
#[derive(Debug, Clone)]
pub struct Flash {
    /// `ok` | `error`
    pub kind: &'static str,
    pub text: String,
}

pub const FLASH_COOKIE: &str = "vg_flash";

impl Flash {
    pub fn cookie_value(&self) -> String {
        format!("{}.{}", self.kind, hex::encode(self.text.as_bytes()))
    }

    pub fn from_cookie_value(v: &str) -> Option<Flash> {
        let (kind, text) = v.split_once('.')?;
        let kind = match kind {
            "ok" => "ok",
            "error" => "error",
            _ => return None,
        };
        let text = String::from_utf8(hex::decode(text).ok()?).ok()?;
        Some(Flash { kind, text })
    }
}

/// The logged-in user of this request (put in the request's extensions by `auth::guard`).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: u64,
    pub username: String,
    pub role: Role,
    pub csrf: String,
    pub ip: Option<String>,
    pub flash: Option<Flash>,
}

impl CurrentUser {
    /// Writes one audit row (inside the caller's transaction when given one).
    pub async fn audit(
        &self,
        ex: impl sqlx::MySqlExecutor<'_>,
        action: &str,
        target: Option<(&str, String)>,
        detail: Option<String>,
    ) -> sqlx::Result<()> {
        let (target_type, target_id) = match target {
            Some((t, id)) => (Some(t), Some(id)),
            None => (None, None),
        };
        audit::record(
            ex,
            AuditEntry {
                user_id: Some(self.id),
                username: &self.username,
                action,
                target_type,
                target_id,
                detail,
                ip: self.ip.as_deref(),
            },
        )
        .await
    }

    /// The actor recorded on order events.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.username)
    }
}
