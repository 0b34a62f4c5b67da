//! The one authentication step of both JD protocols, in the same order for each: the shop the
//! request names (通用交易 `vendorId`, 游戏点卡 `customerId`), the caller's address against the
//! shop's allow-list, the signature with the shop's key, and (when configured) the timestamp.
//! Each protocol answers a [`Refusal`] with its own codes.

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;

use common::domain::Platform;

use crate::Gateway;
use crate::directory::Shop;

/// A shop whose key signed the request, called from an allowed address. Only [`authenticate`]
/// makes one, so a function taking it cannot be reached with an unverified request.
#[derive(Debug, Clone)]
pub struct Authenticated(Arc<Shop>);

impl Authenticated {
    pub fn shop(&self) -> &Arc<Shop> {
        &self.0
    }
}

impl Deref for Authenticated {
    type Target = Shop;
    fn deref(&self) -> &Shop {
        &self.0
    }
}

/// Why a request was not authenticated.
#[derive(Debug)]
pub enum Refusal {
    /// No enabled shop has this merchant id: most likely our own configuration.
    UnknownShop { merchant_id: String },
    /// The shop could not be read (database, or a key that cannot be decrypted).
    LookupFailed(String),
    /// The caller's address is not in the shop's allow-list.
    IpDenied { shop: Arc<Shop>, ip: Option<IpAddr> },
    /// The shop's key does not verify the signature.
    BadSignature { shop: Arc<Shop> },
    /// The timestamp is outside the configured window.
    StaleTimestamp { shop: Arc<Shop>, timestamp: String },
}

impl Refusal {
    /// The `outcome` label of the request metric and log line.
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::UnknownShop { .. } => "unknown_shop",
            Refusal::LookupFailed(_) => "error",
            Refusal::IpDenied { .. } => "ip_denied",
            Refusal::BadSignature { .. } => "bad_signature",
            Refusal::StaleTimestamp { .. } => "stale_timestamp",
        }
    }

    /// The shop, once it was identified (its key signs the refusal where the protocol signs).
    pub fn shop(&self) -> Option<&Arc<Shop>> {
        match self {
            Refusal::UnknownShop { .. } | Refusal::LookupFailed(_) => None,
            Refusal::IpDenied { shop, .. }
            | Refusal::BadSignature { shop }
            | Refusal::StaleTimestamp { shop, .. } => Some(shop),
        }
    }
}

/// Finds the enabled shop of `platform` named `merchant_id`, then checks `ip`, the signature
/// (`verify` is given the shop's signing key) and `timestamp`.
pub async fn authenticate(
    gw: &Gateway,
    platform: Platform,
    merchant_id: &str,
    ip: Option<IpAddr>,
    timestamp: &str,
    verify: impl FnOnce(&str) -> bool,
) -> Result<Authenticated, Refusal> {
    let shop = match gw.directory.shop(platform, merchant_id).await {
        Ok(Some(shop)) if shop.enabled => shop,
        Ok(_) => {
            return Err(Refusal::UnknownShop {
                merchant_id: merchant_id.to_owned(),
            });
        }
        Err(e) => return Err(Refusal::LookupFailed(e.to_string())),
    };
    if !shop.allows(ip) {
        return Err(Refusal::IpDenied { shop, ip });
    }
    if !verify(&shop.sign_key) {
        return Err(Refusal::BadSignature { shop });
    }
    if !timestamp_fresh(gw, timestamp) {
        return Err(Refusal::StaleTimestamp {
            shop,
            timestamp: timestamp.to_owned(),
        });
    }
    Ok(Authenticated(shop))
}

/// Whether `timestamp` (`yyyyMMddHHmmss`, Beijing time) is within the configured window.
fn timestamp_fresh(gw: &Gateway, timestamp: &str) -> bool {
    if gw.timestamp_window.is_zero() {
        return true;
    }
    let Ok(t) = chrono::NaiveDateTime::parse_from_str(timestamp.trim(), "%Y%m%d%H%M%S") else {
        return false;
    };
    let Some(t) = t
        .and_local_timezone(common::domain::types::beijing())
        .single()
    else {
        return false;
    };
    let skew = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .unsigned_abs();
    skew <= gw.timestamp_window.as_secs()
}
