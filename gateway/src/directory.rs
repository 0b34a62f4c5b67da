//! Shops and products as the gateway needs them, cached for a few seconds: shop keys are
//! decrypted once per load, and an edit in the admin takes effect within the cache TTL.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::cache::TtlCache;
use common::client_ip;
use common::crypto::{JdAesKey, MasterKey};
use common::db::Pool;
use common::db::products::{self, ProductRow};
use common::db::shops::{self, ShopRow, ShopSecret};
use common::domain::{Platform, ShopMode};
use ipnet::IpNet;

/// A shop with its keys decrypted. Debug never prints the keys.
pub struct Shop {
    pub id: u64,
    pub platform: Platform,
    pub merchant_id: String,
    pub mode: ShopMode,
    pub enabled: bool,
    /// 通用交易 MD5 key, or 游戏点卡 private key.
    pub sign_key: String,
    /// 通用交易 AES key.
    pub aes_key: Option<JdAesKey>,
    /// `None`: any address may call.
    pub allowlist: Option<Vec<IpNet>>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("id", &self.id)
            .field("platform", &self.platform)
            .field("merchant_id", &self.merchant_id)
            .finish_non_exhaustive()
    }
}

impl Shop {
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        match (&self.allowlist, ip) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(list), Some(ip)) => {
                let ip = client_ip::canonical(ip);
                list.iter().any(|net| net.contains(&ip))
            }
        }
    }
}

/// Parses `1.2.3.4, 10.0.0.0/8` into networks; bad entries are skipped with a warning.
pub fn parse_allowlist(text: Option<&str>) -> Option<Vec<IpNet>> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    let nets = client_ip::list_entries(text)
        .filter_map(|s| {
            let net = client_ip::parse_network(s);
            if net.is_none() {
                tracing::warn!(entry = s, "ignoring an invalid IP allow-list entry");
            }
            net
        })
        .collect();
    Some(nets)
}

type ShopKey = (Platform, String);
type SkuKey = (Platform, String);

pub struct Directory {
    db: Pool,
    key: MasterKey,
    shops: TtlCache<ShopKey, Option<Arc<Shop>>>,
    products: TtlCache<SkuKey, Option<Arc<ProductRow>>>,
}

/// Why a shop cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("shop {0} has no usable key")]
    Keys(u64),
}

/// Entries beyond this are dropped wholesale: a flood of unknown ids cannot grow the cache.
const MAX_ENTRIES: usize = 10_000;

impl Directory {
    pub fn new(db: Pool, key: MasterKey, ttl: Duration) -> Self {
        Self {
            db,
            key,
            shops: TtlCache::new(ttl, MAX_ENTRIES),
            products: TtlCache::new(ttl, MAX_ENTRIES),
        }
    }

    /// The shop a platform merchant id names (`vendorId`, `customerId`).
    pub async fn shop(
        &self,
        platform: Platform,
        merchant_id: &str,
    ) -> Result<Option<Arc<Shop>>, DirectoryError> {
        let key = (platform, merchant_id.to_owned());
        self.shops
            .get_or_load(&key, || async {
                let row = shops::find_by_merchant(&self.db, platform, merchant_id, "").await?;
                match row {
                    None => Ok(None),
                    Some(row) => Ok(Some(Arc::new(self.decrypt(row)?))),
                }
            })
            .await
    }

    /// A shop by its id (orders name their shop).
    pub async fn shop_by_id(
        &self,
        platform: Platform,
        id: u64,
    ) -> Result<Option<Arc<Shop>>, DirectoryError> {
        let Some(row) = shops::get(&self.db, id).await? else {
            return Ok(None);
        };
        if row.platform != platform {
            return Ok(None);
        }
        self.shop(platform, &row.merchant_id).await
    }

    fn decrypt(&self, row: ShopRow) -> Result<Shop, DirectoryError> {
        let platform = row.platform;
        let secret = |which| {
            row.secret(&self.key, which).map_err(|e| {
                tracing::error!(shop_id = row.id, error = %e, "shop secret cannot be decrypted");
                DirectoryError::Keys(row.id)
            })
        };
        let (sign_key, aes_key) = match platform {
            Platform::JdGeneral => {
                let md5 = secret(ShopSecret::Md5Key)?.ok_or(DirectoryError::Keys(row.id))?;
                let aes = secret(ShopSecret::AesKey)?
                    .map(|k| JdAesKey::new(&k).map_err(|_| DirectoryError::Keys(row.id)))
                    .transpose()?;
                (md5, aes)
            }
            Platform::JdGame => (
                secret(ShopSecret::PrivateKey)?.ok_or(DirectoryError::Keys(row.id))?,
                None,
            ),
            Platform::Agiso => (
                secret(ShopSecret::AppSecret)?.ok_or(DirectoryError::Keys(row.id))?,
                None,
            ),
        };
        Ok(Shop {
            id: row.id,
            platform,
            merchant_id: row.merchant_id.clone(),
            mode: row.mode,
            enabled: row.enabled,
            sign_key,
            aes_key,
            allowlist: parse_allowlist(row.ip_allowlist.as_deref()),
        })
    }

    /// Every enabled shop of a platform (to identify the caller of a query that names no shop).
    pub async fn shops_of(&self, platform: Platform) -> Result<Vec<Arc<Shop>>, DirectoryError> {
        let rows = shops::list(&self.db).await?;
        let mut out = Vec::new();
        for row in rows
            .into_iter()
            .filter(|r| r.platform == platform && r.enabled)
        {
            if let Some(shop) = self.shop(platform, &row.merchant_id).await? {
                out.push(shop);
            }
        }
        Ok(out)
    }

    /// The product a platform SKU / merchant code maps to.
    pub async fn product(
        &self,
        platform: Platform,
        sku: &str,
    ) -> Result<Option<Arc<ProductRow>>, sqlx::Error> {
        let key = (platform, sku.to_owned());
        self.products
            .get_or_load(&key, || async {
                Ok(products::find_by_sku(&self.db, platform, sku)
                    .await?
                    .map(Arc::new))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist() {
        let nets = parse_allowlist(Some("127.0.0.1, 10.0.0.0/8 bogus")).unwrap();
        assert_eq!(nets.len(), 2);
        let shop = Shop {
            id: 1,
            platform: Platform::JdGame,
            merchant_id: "1".into(),
            mode: ShopMode::Prod,
            enabled: true,
            sign_key: String::new(),
            aes_key: None,
            allowlist: Some(nets),
        };
        assert!(shop.allows(Some("127.0.0.1".parse().unwrap())));
        assert!(shop.allows(Some("::ffff:10.1.2.3".parse().unwrap())));
        assert!(!shop.allows(Some("192.168.1.1".parse().unwrap())));
        assert!(!shop.allows(None));
        assert!(parse_allowlist(Some("  ")).is_none());
    }
}
