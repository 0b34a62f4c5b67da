//! Building one order's callback exactly as the JD specs say, from the database: the URL, the
//! signed form (fresh timestamp and sign per attempt; same agentOrderNo and cards every time),
//! the masked copy that is logged, and how JD's answer is read.

use std::sync::Arc;
use std::time::Duration;

use common::cache::TtlCache;
use common::crypto::JdAesKey;
use common::crypto::at_rest::MasterKey;
use common::db::orders::OrderRow;
use common::db::shops::{ShopRow, ShopSecret};
use common::db::{self, Pool};
use common::domain::{NotifyStatus, OrderKind, OrderStatus, Platform, PlatformOrderNo, ShopMode};
use common::protocol::jd_game::{self, GameCallback, GameOrderKind, RetCode};
use common::protocol::jd_general::{self, ProduceResultCallback, ProduceStatus};
use common::protocol::{beijing_timestamp, form};
use sha2::Digest;

/// What the notifier logs in place of card data.
pub const MASK: &str = "[卡密已隐藏]";

/// A callback ready to be signed and sent (any number of times).
pub enum Prepared {
    General {
        url: String,
        callback: ProduceResultCallback,
        md5_key: String,
    },
    Game {
        url: String,
        callback: GameCallback,
        customer_id: String,
        private_key: String,
    },
}

/// One signed request.
pub struct Request {
    pub url: String,
    /// The urlencoded form, with secrets: sent, never logged.
    pub body: String,
    /// The same form with card data replaced by [`MASK`] and a hash (the hash is the same on
    /// every attempt when the cards are).
    pub masked: String,
}

/// JD's answer, platform-neutral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Stop at once (通用交易 13: the order is already final at JD), with the operator's reason.
    Stop(String),
    /// A configuration problem JD reported (通用交易 10, 11, 19: key, IP list, vendorId): retried
    /// on the schedule like [`Verdict::Retry`], since the operator can fix it meanwhile, and
    /// alerted. `code` is JD's answer code.
    Misconfigured {
        code: String,
        reason: String,
    },
    Retry(String),
}

fn short_hash(value: &str) -> String {
    let digest = sha2::Sha256::digest(value.as_bytes());
    hex::encode(&digest[..8])
}

fn joined(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

impl Prepared {
    pub fn platform(&self) -> Platform {
        match self {
            Prepared::General { .. } => Platform::JdGeneral,
            Prepared::Game { .. } => Platform::JdGame,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Prepared::General { url, .. } | Prepared::Game { url, .. } => url,
        }
    }

    /// Signs the form with the current time.
    pub fn request(&self, now: chrono::DateTime<chrono::Utc>) -> Request {
        let timestamp = beijing_timestamp(now);
        match self {
            Prepared::General {
                url,
                callback,
                md5_key,
            } => {
                let pairs = callback.to_form(md5_key, &timestamp);
                let masked: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| {
                        if k == "product" {
                            (k.clone(), format!("{MASK} sha256:{}", short_hash(v)))
                        } else {
                            (k.clone(), v.clone())
                        }
                    })
                    .collect();
                Request {
                    url: url.clone(),
                    body: form::encode_form(&pairs),
                    masked: joined(&masked),
                }
            }
            Prepared::Game {
                url,
                callback,
                customer_id,
                private_key,
            } => {
                let pairs = callback.to_form(customer_id, private_key, &timestamp);
                let masked: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| {
                        if k != "data" {
                            (k.clone(), v.clone())
                        } else if callback.cardinfos.is_empty() {
                            // No cards: the decoded JSON (status, failure reason) is useful.
                            (k.clone(), callback.to_json())
                        } else {
                            (
                                k.clone(),
                                format!(
                                    "{MASK} {} 张 sha256:{}",
                                    callback.cardinfos.len(),
                                    short_hash(v)
                                ),
                            )
                        }
                    })
                    .collect();
                Request {
                    url: url.clone(),
                    body: form::encode_form(&pairs),
                    masked: joined(&masked),
                }
            }
        }
    }

    /// Reads JD's answer body.
    pub fn verdict(&self, body: &[u8]) -> Verdict {
        match self {
            Prepared::General { .. } => match jd_general::CallbackAnswer::parse(body) {
                jd_general::CallbackVerdict::Delivered => Verdict::Delivered,
                jd_general::CallbackVerdict::Stop { reason, .. } => Verdict::Stop(reason),
                jd_general::CallbackVerdict::Misconfigured { code, reason } => {
                    Verdict::Misconfigured { code, reason }
                }
                jd_general::CallbackVerdict::Retry { reason } => Verdict::Retry(reason),
            },
            Prepared::Game { .. } => match jd_game::CallbackAnswer::parse(body) {
                jd_game::CallbackVerdict::Delivered => Verdict::Delivered,
                jd_game::CallbackVerdict::Retry { reason, .. } => Verdict::Retry(reason),
            },
        }
    }
}

/// Why a callback cannot be built (configuration or data problems; Chinese, operator-facing).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn config(msg: impl Into<String>) -> PrepareError {
    PrepareError::Config(msg.into())
}

fn secret(shop: &ShopRow, key: &MasterKey, which: ShopSecret) -> Result<String, PrepareError> {
    match shop.secret(key, which) {
        Ok(Some(s)) if !s.is_empty() => Ok(s),
        Ok(_) => Err(config(format!("店铺 {} 未配置 {which:?}", shop.name))),
        Err(_) => Err(config(format!(
            "店铺 {} 的 {which:?} 无法用 MASTER_KEY 解密",
            shop.name
        ))),
    }
}

async fn cards(
    pool: &Pool,
    key: &MasterKey,
    order: &OrderRow,
    sold: db::cards::OrderCards,
) -> Result<Vec<common::domain::card_import::CardLine>, PrepareError> {
    // The shared gate: a success callback only with exactly `quantity` cards. Otherwise no
    // callback is sent; the attempt is recorded with the reason and retried on the schedule
    // (giving up, operator-visible, when it is used up), while queries answer "in progress".
    match db::cards::for_success_with(pool, key, order, "notifier", sold)
        .await
        .map_err(|_| config("订单卡密无法读取或解密"))?
    {
        db::cards::SuccessCards::Complete(cards) => Ok(cards),
        db::cards::SuccessCards::Mismatch { expected, found } => Err(config(format!(
            "{}：应有 {expected} 张，实有 {found} 张，不发送成功回调",
            db::cards::CARD_COUNT_MISMATCH_NOTE
        ))),
        db::cards::SuccessCards::Unreadable => Err(config(format!(
            "{}，不发送成功回调",
            db::cards::CARD_UNREADABLE_NOTE
        ))),
    }
}

/// Shops read at most once per `ttl` (a key changed by an operator is used within `ttl`).
pub struct ShopCache(TtlCache<u64, Option<Arc<ShopRow>>>);

/// Shops kept at most; orders name few shops.
const MAX_SHOPS: usize = 10_000;

impl ShopCache {
    pub fn new(ttl: Duration) -> ShopCache {
        ShopCache(TtlCache::new(ttl, MAX_SHOPS))
    }

    pub async fn get(&self, pool: &Pool, id: u64) -> sqlx::Result<Option<Arc<ShopRow>>> {
        self.0
            .get_or_load(&id, || async {
                Ok(db::shops::get(pool, id).await?.map(Arc::new))
            })
            .await
    }
}

/// Whether the callback of `order` carries cards: the orders whose sold cards the sender reads
/// (all claimed orders' in one statement) before calling [`prepare`].
pub fn carries_cards(order: &OrderRow) -> bool {
    order.status == OrderStatus::Succeeded && order.order_kind == OrderKind::Card
}

/// Builds the callback of `order` from the order, its shop and `sold` (the cards sold to it,
/// read beforehand when [`carries_cards`]). `Ok(None)` when there is nothing to send (the order
/// is not final, or its notification is no longer pending).
pub async fn prepare(
    pool: &Pool,
    shops: &ShopCache,
    key: &MasterKey,
    order: &OrderRow,
    sold: db::cards::OrderCards,
) -> Result<Option<Prepared>, PrepareError> {
    if order.notify_status != NotifyStatus::Pending {
        return Ok(None);
    }
    let status = order.status;
    if !status.is_final() {
        return Ok(None);
    }
    let shop = shops
        .get(pool, order.shop_id)
        .await?
        .ok_or_else(|| config(format!("店铺 {} 不存在", order.shop_id)))?;
    let succeeded = status == OrderStatus::Succeeded;
    let is_card = order.order_kind == OrderKind::Card;
    let test_mode = shop.mode == ShopMode::Test;
    match order.platform {
        Platform::JdGeneral => {
            let md5_key = secret(&shop, key, ShopSecret::Md5Key)?;
            let url = if test_mode {
                jd_general::SELF_TEST_CALLBACK_URL.to_owned()
            } else {
                let notify = order
                    .notify_url
                    .as_deref()
                    .filter(|u| !u.trim().is_empty())
                    .ok_or_else(|| config("订单没有 notifyUrl"))?;
                jd_general::callback_url(notify)
            };
            let product = if carries_cards(order) {
                let aes = secret(&shop, key, ShopSecret::AesKey)?;
                let aes = JdAesKey::new(&aes).map_err(|_| config("店铺 AES 密钥格式错误"))?;
                let cards = cards(pool, key, order, sold).await?;
                Some(jd_general::encrypt_cards(
                    &jd_general::card_items_from(&cards),
                    &aes,
                ))
            } else {
                None
            };
            let callback = ProduceResultCallback {
                vendor_id: shop
                    .merchant_id
                    .trim()
                    .parse()
                    .map_err(|_| config("店铺 vendorId 不是数字"))?,
                jd_order_no: PlatformOrderNo::parse_jd(order.platform_order_no.as_str())
                    .ok_or_else(|| config("jdOrderNo 不是数字"))?,
                agent_order_no: order.order_no.to_string(),
                produce_status: if succeeded {
                    ProduceStatus::Success
                } else {
                    ProduceStatus::Failed
                },
                quantity: u32::try_from(order.quantity).unwrap_or(1),
                product,
            };
            Ok(Some(Prepared::General {
                url,
                callback,
                md5_key,
            }))
        }
        Platform::JdGame => {
            let private_key = secret(&shop, key, ShopSecret::PrivateKey)?;
            let kind = if is_card {
                GameOrderKind::Card
            } else {
                GameOrderKind::Direct
            };
            let url = match kind {
                GameOrderKind::Direct => shop.direct_callback_url.clone(),
                GameOrderKind::Card => shop.card_callback_url.clone(),
            }
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| jd_game::callback_url(kind, test_mode).to_owned());
            let order_id = PlatformOrderNo::parse_jd(order.platform_order_no.as_str())
                .ok_or_else(|| config("orderId 不是数字"))?;
            let callback = if succeeded {
                let cards = if carries_cards(order) {
                    jd_game::card_infos_from(&cards(pool, key, order, sold).await?)
                } else {
                    Vec::new()
                };
                GameCallback::success(order_id, cards)
            } else {
                let failure = order.failure_code;
                let code = failure
                    .map(jd_game::failure_code)
                    .unwrap_or(RetCode::BrandOrderFailed);
                let reason = order
                    .failure_reason
                    .clone()
                    .filter(|r| !r.trim().is_empty())
                    .or_else(|| failure.map(|f| f.label_zh().to_owned()))
                    .unwrap_or_else(|| "充值失败".to_owned());
                GameCallback::failed(order_id, code, &reason)
            };
            // A gift-rights top-up's callback echoes its rightsId (spec §6).
            let callback = callback.with_rights_id(order.rights_id.clone());
            Ok(Some(Prepared::Game {
                url,
                callback,
                customer_id: shop.merchant_id.clone(),
                private_key,
            }))
        }
        Platform::Agiso => Ok(None),
    }
}
