//! Shops: one row per connected store / merchant account, secrets encrypted with MASTER_KEY.

use sqlx::{Acquire, FromRow, MySql, MySqlExecutor};

use crate::crypto::at_rest::{MasterKey, RowKey, SealedColumn, Slot};
use crate::domain::{Platform, ShopMode};

/// A shop as stored. Secret columns hold AES-256-GCM blobs; see [`ShopRow::secret`].
#[derive(Clone, FromRow)]
pub struct ShopRow {
    pub id: u64,
    pub platform: Platform,
    pub name: String,
    pub merchant_id: String,
    pub agiso_service: String,
    pub md5_key_enc: Option<Vec<u8>>,
    pub aes_key_enc: Option<Vec<u8>>,
    pub private_key_enc: Option<Vec<u8>>,
    pub app_secret_enc: Option<Vec<u8>>,
    pub access_token_enc: Option<Vec<u8>>,
    pub mode: ShopMode,
    pub direct_callback_url: Option<String>,
    pub card_callback_url: Option<String>,
    pub base_url: Option<String>,
    pub ip_allowlist: Option<String>,
    pub enabled: bool,
}

impl std::fmt::Debug for ShopRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopRow")
            .field("id", &self.id)
            .field("platform", &self.platform)
            .field("name", &self.name)
            .field("merchant_id", &self.merchant_id)
            .field("mode", &self.mode)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// Which secret of a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopSecret {
    Md5Key,
    AesKey,
    PrivateKey,
    AppSecret,
    AccessToken,
}

impl ShopSecret {
    /// The column that holds this secret.
    pub const fn column(self) -> SealedColumn {
        match self {
            ShopSecret::Md5Key => SealedColumn::ShopMd5Key,
            ShopSecret::AesKey => SealedColumn::ShopAesKey,
            ShopSecret::PrivateKey => SealedColumn::ShopPrivateKey,
            ShopSecret::AppSecret => SealedColumn::ShopAppSecret,
            ShopSecret::AccessToken => SealedColumn::ShopAccessToken,
        }
    }

    /// Where this secret of shop `shop_id` is sealed.
    pub const fn slot(self, shop_id: u64) -> Slot<'static> {
        Slot::new(self.column(), RowKey::Id(shop_id))
    }
}

impl ShopRow {
    /// Decrypts one secret. `Ok(None)` when the shop has none of that kind.
    pub fn secret(&self, key: &MasterKey, which: ShopSecret) -> anyhow::Result<Option<String>> {
        let blob = match which {
            ShopSecret::Md5Key => &self.md5_key_enc,
            ShopSecret::AesKey => &self.aes_key_enc,
            ShopSecret::PrivateKey => &self.private_key_enc,
            ShopSecret::AppSecret => &self.app_secret_enc,
            ShopSecret::AccessToken => &self.access_token_enc,
        };
        blob.as_deref()
            .map(|b| {
                key.open_string(which.slot(self.id), b).map_err(|_| {
                    anyhow::anyhow!(
                        "shop {} secret {which:?} cannot be decrypted with MASTER_KEY",
                        self.id
                    )
                })
            })
            .transpose()
    }
}

/// A shop to create; secrets in clear text, encrypted by [`insert`].
#[derive(Default)]
pub struct NewShop {
    pub platform: Option<Platform>,
    pub name: String,
    pub merchant_id: String,
    pub agiso_service: String,
    pub md5_key: Option<String>,
    pub aes_key: Option<String>,
    pub private_key: Option<String>,
    pub app_secret: Option<String>,
    pub access_token: Option<String>,
    pub mode: Option<ShopMode>,
    pub direct_callback_url: Option<String>,
    pub card_callback_url: Option<String>,
    pub base_url: Option<String>,
    pub ip_allowlist: Option<String>,
}

impl NewShop {
    fn secrets(&self) -> Secrets<'_> {
        secrets([
            &self.md5_key,
            &self.aes_key,
            &self.private_key,
            &self.app_secret,
            &self.access_token,
        ])
    }
}

/// The five secret fields of a shop form, in [`ShopSecret`] order.
fn secrets(values: [&Option<String>; 5]) -> Secrets<'_> {
    let [md5, aes, private, app_secret, token] = values.map(Option::as_deref);
    [
        (ShopSecret::Md5Key, md5),
        (ShopSecret::AesKey, aes),
        (ShopSecret::PrivateKey, private),
        (ShopSecret::AppSecret, app_secret),
        (ShopSecret::AccessToken, token),
    ]
}

const COLUMNS: &str = "id, platform, name, merchant_id, agiso_service, md5_key_enc, aes_key_enc, \
    private_key_enc, app_secret_enc, access_token_enc, mode, direct_callback_url, card_callback_url, \
    base_url, ip_allowlist, enabled";

/// Creates a shop. Its secrets are sealed for its id, so the row is inserted first and the
/// secrets written into it, in one transaction.
pub async fn insert<'c>(
    conn: impl Acquire<'c, Database = MySql>,
    key: &MasterKey,
    s: &NewShop,
) -> sqlx::Result<u64> {
    let mut tx = conn.begin().await?;
    let platform = s.platform.map(Platform::as_str).unwrap_or_default();
    let id = sqlx::query(
        "INSERT INTO shops (platform, name, merchant_id, agiso_service, mode, direct_callback_url,
            card_callback_url, base_url, ip_allowlist)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(platform)
    .bind(&s.name)
    .bind(&s.merchant_id)
    .bind(&s.agiso_service)
    .bind(s.mode.unwrap_or(ShopMode::Prod))
    .bind(&s.direct_callback_url)
    .bind(&s.card_callback_url)
    .bind(&s.base_url)
    .bind(&s.ip_allowlist)
    .execute(&mut *tx)
    .await?
    .last_insert_id();
    write_secrets(&mut *tx, key, id, &s.secrets()).await?;
    tx.commit().await?;
    Ok(id)
}

/// Secrets of a shop in clear text, in [`ShopSecret`] order; `None` keeps what is stored.
type Secrets<'a> = [(ShopSecret, Option<&'a str>); 5];

/// Seals and writes the given secrets of shop `id`; the others stay as stored.
async fn write_secrets(
    ex: impl MySqlExecutor<'_>,
    key: &MasterKey,
    id: u64,
    secrets: &Secrets<'_>,
) -> sqlx::Result<()> {
    if secrets.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    let mut q = sqlx::query(
        "UPDATE shops SET md5_key_enc = COALESCE(?, md5_key_enc),
            aes_key_enc = COALESCE(?, aes_key_enc),
            private_key_enc = COALESCE(?, private_key_enc),
            app_secret_enc = COALESCE(?, app_secret_enc),
            access_token_enc = COALESCE(?, access_token_enc)
         WHERE id = ?",
    );
    for (which, value) in secrets {
        q = q.bind(value.map(|v| key.seal_str(which.slot(id), v)));
    }
    q.bind(id).execute(ex).await?;
    Ok(())
}

pub async fn list(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<ShopRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM shops ORDER BY id"
    )))
    .fetch_all(ex)
    .await
}

pub async fn get(ex: impl MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<ShopRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM shops WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The shop JD's request names (`vendorId` / `customerId`), or an Agiso app + service.
pub async fn find_by_merchant(
    ex: impl MySqlExecutor<'_>,
    platform: Platform,
    merchant_id: &str,
    agiso_service: &str,
) -> sqlx::Result<Option<ShopRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM shops WHERE platform = ? AND merchant_id = ? AND agiso_service = ?"
    )))
    .bind(platform)
    .bind(merchant_id)
    .bind(agiso_service)
    .fetch_optional(ex)
    .await
}

/// An edit of a shop. Secrets are clear text to replace, or `None` to keep the stored one; the
/// platform never changes.
#[derive(Default)]
pub struct ShopUpdate {
    pub name: String,
    pub merchant_id: String,
    pub agiso_service: String,
    pub md5_key: Option<String>,
    pub aes_key: Option<String>,
    pub private_key: Option<String>,
    pub app_secret: Option<String>,
    pub access_token: Option<String>,
    pub mode: Option<ShopMode>,
    pub direct_callback_url: Option<String>,
    pub card_callback_url: Option<String>,
    pub base_url: Option<String>,
    pub ip_allowlist: Option<String>,
    pub enabled: bool,
}

impl ShopUpdate {
    /// The shop to create from these fields (the back office's create form is an update of
    /// nothing; `enabled` is applied by the caller).
    pub fn to_new(&self, platform: Platform) -> NewShop {
        NewShop {
            platform: Some(platform),
            name: self.name.clone(),
            merchant_id: self.merchant_id.clone(),
            agiso_service: self.agiso_service.clone(),
            md5_key: self.md5_key.clone(),
            aes_key: self.aes_key.clone(),
            private_key: self.private_key.clone(),
            app_secret: self.app_secret.clone(),
            access_token: self.access_token.clone(),
            mode: self.mode,
            direct_callback_url: self.direct_callback_url.clone(),
            card_callback_url: self.card_callback_url.clone(),
            base_url: self.base_url.clone(),
            ip_allowlist: self.ip_allowlist.clone(),
        }
    }

    fn secrets(&self) -> Secrets<'_> {
        secrets([
            &self.md5_key,
            &self.aes_key,
            &self.private_key,
            &self.app_secret,
            &self.access_token,
        ])
    }

    /// The names of the secrets this edit replaces (for the audit row: names only).
    pub fn replaced_secrets(&self) -> Vec<&'static str> {
        [
            (self.md5_key.is_some(), "MD5 密钥"),
            (self.aes_key.is_some(), "AES 密钥"),
            (self.private_key.is_some(), "私钥"),
            (self.app_secret.is_some(), "AppSecret"),
            (self.access_token.is_some(), "AccessToken"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
        .collect()
    }
}

/// Shows no secret, only which ones the edit replaces.
impl std::fmt::Debug for ShopUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopUpdate")
            .field("name", &self.name)
            .field("merchant_id", &self.merchant_id)
            .field("replaced_secrets", &self.replaced_secrets())
            .finish_non_exhaustive()
    }
}

/// Applies an edit (secrets given are encrypted; secrets not given stay as stored). Returns
/// whether the shop exists.
pub async fn update<'c>(
    conn: impl Acquire<'c, Database = MySql>,
    key: &MasterKey,
    id: u64,
    s: &ShopUpdate,
) -> sqlx::Result<bool> {
    let mut tx = conn.begin().await?;
    let r = sqlx::query(
        "UPDATE shops SET name = ?, merchant_id = ?, agiso_service = ?,
            mode = ?, direct_callback_url = ?, card_callback_url = ?, base_url = ?,
            ip_allowlist = ?, enabled = ?, updated_at = NOW(3)
         WHERE id = ?",
    )
    .bind(&s.name)
    .bind(&s.merchant_id)
    .bind(&s.agiso_service)
    .bind(s.mode.unwrap_or(ShopMode::Prod))
    .bind(&s.direct_callback_url)
    .bind(&s.card_callback_url)
    .bind(&s.base_url)
    .bind(&s.ip_allowlist)
    .bind(s.enabled)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let found = r.rows_affected() == 1;
    if found {
        write_secrets(&mut *tx, key, id, &s.secrets()).await?;
    }
    tx.commit().await?;
    Ok(found)
}
