//! The enabled Agiso shops, their secrets decrypted, cached for a short time (an edit in the
//! admin takes effect within it). A shop is one (AppId, service) pair: `shops.merchant_id` is
//! the AppId, `shops.agiso_service` the service.

use std::sync::Arc;
use std::time::Duration;

use common::cache::TtlCache;
use common::crypto::MasterKey;
use common::db::Pool;
use common::db::shops::{self, ShopSecret};
use common::domain::Platform;
use common::protocol::agiso_order::Service;
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct AgisoShop {
    pub id: u64,
    pub name: String,
    pub app_id: String,
    pub service: Service,
    pub app_secret: SecretString,
    /// `None` until the merchant has authorized the app (only the balance query works then).
    pub access_token: Option<SecretString>,
    /// Agiso's gateway, e.g. `https://gw-api.agiso.com` (the shop's override, else the default).
    pub gateway: String,
}

pub struct Shops {
    pool: Pool,
    key: MasterKey,
    default_gateway: String,
    cache: TtlCache<(), Arc<Vec<AgisoShop>>>,
}

impl Shops {
    pub fn new(pool: Pool, key: MasterKey, default_gateway: String, ttl: Duration) -> Shops {
        Shops {
            pool,
            key,
            default_gateway,
            cache: TtlCache::new(ttl, 1),
        }
    }

    /// Every enabled Agiso shop whose secrets open with our key. A shop that does not open is
    /// left out and logged (by id only).
    pub async fn all(&self) -> anyhow::Result<Arc<Vec<AgisoShop>>> {
        self.cache
            .get_or_load(&(), || async {
                let rows = shops::list(&self.pool).await?;
                let mut out = Vec::new();
                for row in rows {
                    if !row.enabled || row.platform != Platform::Agiso {
                        continue;
                    }
                    let Some(service) = Service::parse(&row.agiso_service) else {
                        tracing::warn!(
                            shop_id = row.id,
                            "Agiso shop has an unknown service; skipped"
                        );
                        continue;
                    };
                    let secret = row.secret(&self.key, ShopSecret::AppSecret);
                    let token = row.secret(&self.key, ShopSecret::AccessToken);
                    let (Ok(Some(app_secret)), Ok(access_token)) = (secret, token) else {
                        tracing::warn!(
                            shop_id = row.id,
                            "Agiso shop secrets cannot be read; skipped"
                        );
                        continue;
                    };
                    out.push(AgisoShop {
                        id: row.id,
                        name: row.name.clone(),
                        app_id: row.merchant_id.clone(),
                        service,
                        app_secret: SecretString::from(app_secret),
                        access_token: access_token.map(SecretString::from),
                        gateway: row
                            .base_url
                            .clone()
                            .filter(|u| !u.trim().is_empty())
                            .unwrap_or_else(|| self.default_gateway.clone()),
                    });
                }
                Ok::<_, anyhow::Error>(Arc::new(out))
            })
            .await
    }

    pub async fn get(&self, id: u64) -> anyhow::Result<Option<AgisoShop>> {
        Ok(self.all().await?.iter().find(|s| s.id == id).cloned())
    }
}
