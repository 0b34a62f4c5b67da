//! The rows tests create, written once (one file on purpose, about 550 lines: a test author
//! finds every builder in one place): shops of each platform with their keys, products of
//! each mode with their SKUs, cards in stock or sold, suppliers, and orders. Each builder writes
//! through the repository function that the services use for that row type (`shops::insert`,
//! `products::insert`, `cards::import`, `suppliers::insert`, `orders::create`, …), secrets sealed
//! with the test master key, so a fixture row is exactly what the system itself would store.
//!
//! The one exception is [`StoredOrder`]: an order row written as it stands in a given status,
//! without its timeline or outbox message, which no service writes but many tests need (an order
//! of an earlier day, one already waiting for stock, one whose message the test publishes itself).

use chrono::NaiveDate;

use super::master_key;
use crate::db::cards::{ImportReport, NewCardsFor};
use crate::db::orders::{Created, NewOrder, OrderRow};
use crate::db::products::{NewProduct, ProductFields};
use crate::db::shops::NewShop;
use crate::db::suppliers::NewSupplier;
use crate::db::{Pool, cards, orders, products, shops, suppliers};
use crate::domain::card_import::{CardLine, fingerprint_input};
use crate::domain::{
    FailureReason, FulfilmentMode, OrderKind, OrderStatus, Platform, PlatformOrderNo, ShopMode,
    StockPolicy,
};

/// A shop to create with [`Shop::insert`].
pub struct Shop(NewShop);

impl Shop {
    /// A shop of `platform` (the constructors below name the platform).
    pub fn new(platform: Platform, name: &str, merchant_id: &str) -> Shop {
        Shop(NewShop {
            platform: Some(platform),
            name: name.into(),
            merchant_id: merchant_id.into(),
            ..Default::default()
        })
    }

    /// A JD 通用交易 shop (`vendorId`), without keys until [`Shop::keys`].
    pub fn jd_general(name: &str, vendor_id: &str) -> Shop {
        Shop::new(Platform::JdGeneral, name, vendor_id)
    }

    /// A JD 游戏点卡 shop (`customerId`), without a key until [`Shop::private_key`].
    pub fn jd_game(name: &str, customer_id: &str) -> Shop {
        Shop::new(Platform::JdGame, name, customer_id)
    }

    /// An Agiso shop (AppId, `alds` / `aldsJd`), without secrets until [`Shop::agiso_secrets`].
    pub fn agiso(name: &str, app_id: &str, service: &str) -> Shop {
        let mut s = Shop::new(Platform::Agiso, name, app_id);
        s.0.agiso_service = service.into();
        s
    }

    /// 通用交易: the MD5 signing key and the AES key.
    pub fn keys(mut self, md5_key: &str, aes_key: &str) -> Shop {
        self.0.md5_key = Some(md5_key.into());
        self.0.aes_key = Some(aes_key.into());
        self
    }

    /// 通用交易: only the MD5 signing key.
    pub fn md5_key(mut self, md5_key: &str) -> Shop {
        self.0.md5_key = Some(md5_key.into());
        self
    }

    /// 游戏点卡: the signing (private) key.
    pub fn private_key(mut self, key: &str) -> Shop {
        self.0.private_key = Some(key.into());
        self
    }

    /// Agiso: AppSecret and AccessToken.
    pub fn agiso_secrets(mut self, app_secret: &str, access_token: &str) -> Shop {
        self.0.app_secret = Some(app_secret.into());
        self.0.access_token = Some(access_token.into());
        self
    }

    pub fn mode(mut self, mode: ShopMode) -> Shop {
        self.0.mode = Some(mode);
        self
    }

    /// 游戏点卡: where direct-charge and card callbacks go.
    pub fn callback_urls(mut self, direct: &str, card: &str) -> Shop {
        self.0.direct_callback_url = Some(direct.into());
        self.0.card_callback_url = Some(card.into());
        self
    }

    /// Any other field of the shop.
    pub fn with(mut self, set: impl FnOnce(&mut NewShop)) -> Shop {
        set(&mut self.0);
        self
    }

    /// Writes the shop (`shops::insert`, secrets sealed with the test master key); its id.
    pub async fn insert(self, pool: &Pool) -> u64 {
        shops::insert(pool, &master_key(), &self.0)
            .await
            .expect("insert shop")
    }
}

/// A product to create with [`Product::insert`]: enabled, priced 10.00 unless set otherwise, no
/// face value, no low-stock threshold, no SKUs, the default out-of-stock policy.
pub struct Product {
    new: NewProduct,
    out_of_stock: Option<(StockPolicy, i32)>,
    enabled: bool,
}

impl Product {
    pub fn new(name: &str, mode: FulfilmentMode) -> Product {
        Product {
            new: NewProduct {
                name: name.into(),
                mode,
                face_value_fen: None,
                price_fen: Some(1000),
                low_stock_threshold: None,
                skus: Vec::new(),
            },
            out_of_stock: None,
            enabled: true,
        }
    }

    /// A card (卡密) product.
    pub fn card(name: &str) -> Product {
        Product::new(name, FulfilmentMode::Card)
    }

    /// A direct-charge product completed by an operator.
    pub fn direct_manual(name: &str) -> Product {
        Product::new(name, FulfilmentMode::DirectManual)
    }

    /// A direct-charge product charged through suppliers.
    pub fn direct_supplier(name: &str) -> Product {
        Product::new(name, FulfilmentMode::DirectSupplier)
    }

    /// The expected unit price in fen (`None`: no price; the product must then be disabled).
    pub fn price(mut self, fen: Option<i64>) -> Product {
        self.new.price_fen = fen;
        self
    }

    pub fn face_value(mut self, fen: i64) -> Product {
        self.new.face_value_fen = Some(fen);
        self
    }

    pub fn low_stock_threshold(mut self, threshold: Option<i32>) -> Product {
        self.new.low_stock_threshold = threshold;
        self
    }

    /// One more platform SKU mapped to the product.
    pub fn sku(mut self, platform: Platform, sku: &str) -> Product {
        self.new.skus.push((platform, sku.into()));
        self
    }

    /// What an order does when stock runs out: `fail`, or `wait` up to `wait_seconds`.
    pub fn when_out_of_stock(mut self, policy: StockPolicy, wait_seconds: i32) -> Product {
        self.out_of_stock = Some((policy, wait_seconds));
        self
    }

    /// Created, then disabled (停售).
    pub fn disabled(mut self) -> Product {
        self.enabled = false;
        self
    }

    /// Writes the product and its SKUs (`products::insert`), then its out-of-stock policy
    /// (`products::update`) and disabling (`products::set_enabled`) when set; its id.
    pub async fn insert(self, pool: &Pool) -> u64 {
        let id = products::insert(pool, &self.new)
            .await
            .expect("insert product");
        let mut conn = pool.acquire().await.expect("connection");
        if let Some((policy, wait_seconds)) = self.out_of_stock {
            let row = products::get(&mut *conn, id)
                .await
                .expect("read product")
                .expect("product just inserted");
            let mut fields = ProductFields::of(&row);
            fields.out_of_stock_policy = policy;
            fields.stock_wait_seconds = wait_seconds;
            products::update(&mut conn, id, &fields)
                .await
                .expect("set out-of-stock policy");
        }
        if !self.enabled {
            products::set_enabled(&mut conn, id, false)
                .await
                .expect("disable product");
        }
        id
    }
}

/// `n` numbered cards, one a line as a card file holds them: `{prefix}00000,P{prefix}00000`, …
pub fn numbered_cards(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i:05},P{prefix}{i:05}\n"))
        .collect()
}

/// Imports the card file `text` into the stock of `product_id` under `batch`, as the CLI does
/// (`cards::import`); the report says what was new, duplicate or invalid.
pub async fn import_cards(pool: &Pool, product_id: u64, batch: &str, text: &str) -> ImportReport {
    cards::import(pool, &master_key(), product_id, batch, text, true)
        .await
        .expect("import cards")
}

/// [`import_cards`] that must add every line: `cards` as (number, password) pairs.
pub async fn stock_cards(pool: &Pool, product_id: u64, batch: &str, cards: &[(&str, &str)]) {
    let text: String = cards.iter().map(|(n, p)| format!("{n},{p}\n")).collect();
    let r = import_cards(pool, product_id, batch, &text).await;
    assert_eq!(r.new, cards.len(), "cards stocked into {batch}");
}

/// A card line: number, password and expiry (`YYYY-MM-DD`, `None` for none).
pub fn card_line(card_no: &str, password: &str, expires_on: Option<&str>) -> CardLine {
    CardLine {
        card_no: card_no.into(),
        password: password.into(),
        expires_on: expires_on
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("a YYYY-MM-DD date")),
    }
}

/// Cards sold at once to `order_id` under `batch` (the one writer of card rows,
/// `cards::insert_cards`), on the caller's connection or transaction.
pub async fn sold_cards(
    conn: &mut sqlx::MySqlConnection,
    product_id: u64,
    order_id: u64,
    batch: &str,
    cards: &[CardLine],
) {
    let key = master_key();
    let lines: Vec<(&CardLine, [u8; 32])> = cards
        .iter()
        .map(|c| (c, key.fingerprint(&fingerprint_input(c))))
        .collect();
    cards::insert_cards(
        conn,
        &key,
        product_id,
        batch,
        &lines,
        NewCardsFor::SoldTo(order_id),
    )
    .await
    .expect("insert sold cards");
}

/// A direct-charge supplier to create with [`Supplier::insert`].
pub struct Supplier(NewSupplier);

impl Supplier {
    pub fn new(name: &str, base_url: &str, merchant_id: &str, secret: &str) -> Supplier {
        Supplier(NewSupplier {
            name: name.into(),
            base_url: base_url.into(),
            merchant_id: merchant_id.into(),
            secret: secret.into(),
            timeout_ms: None,
        })
    }

    pub fn timeout_ms(mut self, ms: i32) -> Supplier {
        self.0.timeout_ms = Some(ms);
        self
    }

    /// Writes the supplier (`suppliers::insert`, the secret sealed); its id.
    pub async fn insert(self, pool: &Pool) -> u64 {
        suppliers::insert(pool, &master_key(), &self.0)
            .await
            .expect("insert supplier")
    }
}

/// A new order to create with [`Order::create`], through the services' own path.
pub struct Order(NewOrder);

impl Order {
    /// An order of `quantity` 1 for 1.00, SKU `x`, no account, no notify URL, no raw request.
    pub fn new(
        platform: Platform,
        shop_id: u64,
        platform_order_no: &str,
        kind: OrderKind,
        product_id: u64,
    ) -> Order {
        Order(NewOrder {
            platform,
            shop_id,
            platform_order_no: PlatformOrderNo::unchecked(platform_order_no),
            order_kind: kind,
            product_id: Some(product_id),
            sku: "x".into(),
            quantity: 1,
            total_price_fen: 100,
            recharge_account: None,
            notify_url: None,
            raw_request: None,
            rights: None,
            traceparent: None,
        })
    }

    pub fn sku(mut self, sku: &str) -> Order {
        self.0.sku = sku.into();
        self
    }

    pub fn quantity(mut self, quantity: i32) -> Order {
        self.0.quantity = quantity;
        self
    }

    pub fn total_fen(mut self, fen: i64) -> Order {
        self.0.total_price_fen = fen;
        self
    }

    pub fn account(mut self, account: Option<&str>) -> Order {
        self.0.recharge_account = account.map(Into::into);
        self
    }

    pub fn notify_url(mut self, url: &str) -> Order {
        self.0.notify_url = Some(url.into());
        self
    }

    pub fn raw_request(mut self, raw: &str) -> Order {
        self.0.raw_request = Some(raw.into());
        self
    }

    /// Creates the order as the gateway does (`orders::create` by `actor`: the row, its first
    /// event, its `order.created` outbox message); panics when the platform number exists.
    pub async fn create(self, pool: &Pool, actor: &str) -> OrderRow {
        match orders::create(pool, &self.0, actor)
            .await
            .expect("create order")
        {
            Created::New(row) => row,
            Created::Existing(row) => panic!("order {} exists", row.platform_order_no),
        }
    }
}

/// Moves order `id` from `from` along `path` as the services do (guarded transitions, each with
/// its timeline event by `actor` with `note`), in one transaction.
pub async fn walk(
    pool: &Pool,
    id: u64,
    from: OrderStatus,
    path: &[OrderStatus],
    actor: &str,
    note: Option<&str>,
) {
    let mut tx = pool.begin().await.expect("begin");
    let mut at = from;
    for to in path {
        orders::transition(&mut tx, id, at, *to, actor, note)
            .await
            .unwrap_or_else(|e| panic!("order {id}: {at:?} -> {to:?}: {e}"));
        at = *to;
    }
    tx.commit().await.expect("commit");
}

/// An order row written directly as it stands in a status, without its timeline or outbox
/// message (see the module's note). Defaults: order number = platform number, SKU `x`,
/// quantity 1, 1.00, created now, the schema's defaults for everything else.
pub struct StoredOrder {
    order_no: String,
    platform: Platform,
    shop_id: u64,
    platform_order_no: String,
    kind: OrderKind,
    product_id: Option<u64>,
    sku: String,
    quantity: i32,
    total_price_fen: i64,
    recharge_account: Option<String>,
    status: OrderStatus,
    notify_status: Option<&'static str>,
    notify_attempts: Option<i32>,
    notify_reason: Option<String>,
    notify_url: Option<String>,
    failure: Option<FailureReason>,
    days_ago: Option<u32>,
    completed: bool,
}

impl StoredOrder {
    pub fn new(
        platform: Platform,
        shop_id: u64,
        platform_order_no: &str,
        kind: OrderKind,
        status: OrderStatus,
    ) -> StoredOrder {
        StoredOrder {
            order_no: platform_order_no.into(),
            platform,
            shop_id,
            platform_order_no: platform_order_no.into(),
            kind,
            product_id: None,
            sku: "x".into(),
            quantity: 1,
            total_price_fen: 100,
            recharge_account: None,
            status,
            notify_status: None,
            notify_attempts: None,
            notify_reason: None,
            notify_url: None,
            failure: None,
            days_ago: None,
            completed: false,
        }
    }

    /// Our order number, when it must differ from the platform's.
    pub fn order_no(mut self, no: &str) -> StoredOrder {
        self.order_no = no.into();
        self
    }

    pub fn product(mut self, product_id: u64) -> StoredOrder {
        self.product_id = Some(product_id);
        self
    }

    pub fn sku(mut self, sku: &str) -> StoredOrder {
        self.sku = sku.into();
        self
    }

    pub fn quantity(mut self, quantity: i32) -> StoredOrder {
        self.quantity = quantity;
        self
    }

    pub fn total_fen(mut self, fen: i64) -> StoredOrder {
        self.total_price_fen = fen;
        self
    }

    pub fn account(mut self, account: &str) -> StoredOrder {
        self.recharge_account = Some(account.into());
        self
    }

    /// The callback state: `pending` (the schema's default), `delivered`, `giving_up`, …
    pub fn notify_status(mut self, status: &'static str) -> StoredOrder {
        self.notify_status = Some(status);
        self
    }

    /// A given-up callback: its attempts and why.
    pub fn gave_up(mut self, attempts: i32, reason: &str) -> StoredOrder {
        self.notify_status = Some("giving_up");
        self.notify_attempts = Some(attempts);
        self.notify_reason = Some(reason.into());
        self
    }

    pub fn notify_url(mut self, url: Option<String>) -> StoredOrder {
        self.notify_url = url;
        self
    }

    /// The failure code and its Chinese label.
    pub fn failure(mut self, reason: Option<FailureReason>) -> StoredOrder {
        self.failure = reason;
        self
    }

    /// Created `days` days before now.
    pub fn days_ago(mut self, days: u32) -> StoredOrder {
        self.days_ago = Some(days);
        self
    }

    /// Completed now (`completed_at`).
    pub fn completed(mut self) -> StoredOrder {
        self.completed = true;
        self
    }

    /// Writes the row; its id.
    pub async fn insert<'c>(self, ex: impl sqlx::MySqlExecutor<'c>) -> u64 {
        let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, \
             product_id, sku, quantity, total_price_fen, recharge_account, status, failure_code, \
             failure_reason, notify_url, notify_status, notify_attempts, notify_reason, \
             created_at, completed_at) VALUES (",
        );
        let mut v = q.separated(", ");
        v.push_bind(self.order_no)
            .push_bind(self.platform.as_str())
            .push_bind(self.shop_id)
            .push_bind(self.platform_order_no)
            .push_bind(self.kind)
            .push_bind(self.product_id)
            .push_bind(self.sku)
            .push_bind(self.quantity)
            .push_bind(self.total_price_fen)
            .push_bind(self.recharge_account)
            .push_bind(self.status.as_str())
            .push_bind(self.failure.map(FailureReason::as_str))
            .push_bind(self.failure.map(FailureReason::label_zh))
            .push_bind(self.notify_url)
            .push_bind(self.notify_status.unwrap_or("pending"))
            .push_bind(self.notify_attempts.unwrap_or(0))
            .push_bind(self.notify_reason)
            .push_unseparated(", NOW(3) - INTERVAL ")
            .push_bind_unseparated(self.days_ago.unwrap_or(0))
            .push_unseparated(" DAY")
            .push(if self.completed { "NOW(3)" } else { "NULL" });
        q.push(")");
        q.build()
            .execute(ex)
            .await
            .expect("insert order row")
            .last_insert_id()
    }
}
