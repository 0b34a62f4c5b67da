//! The 阿奇索 pages' types: the shop list with its buttons, an Agiso shop's card categories
//! beside our own stock, and Agiso's view of one order.

use askama::Template;

use crate::web::page::Chrome;

pub struct ShopLine {
    pub id: u64,
    pub name: String,
    pub service: String,
}

#[derive(Template)]
#[template(path = "agiso/index.html")]
pub struct IndexPage {
    pub chrome: Chrome,
    pub configured: bool,
    pub not_configured: &'static str,
    pub shops: Vec<ShopLine>,
}

pub struct CategoryLine {
    pub id: String,
    pub title: String,
    pub total: i64,
    pub used: i64,
    pub available: i64,
}

pub struct OwnLine {
    pub product_id: u64,
    pub name: String,
    pub sku: String,
    pub available: String,
}

#[derive(Template)]
#[template(path = "agiso/stock.html")]
pub struct StockPage {
    pub chrome: Chrome,
    pub shop_name: String,
    pub categories: Vec<CategoryLine>,
    pub own: Vec<OwnLine>,
    pub computed_at: String,
}

#[derive(Template)]
#[template(path = "agiso/status.html")]
pub struct StatusPage {
    pub chrome: Chrome,
    pub order_id: u64,
    pub tid: String,
    /// Agiso's order detail, pretty-printed, anything secret-looking masked.
    pub detail: String,
    /// The cards Agiso has on record as sent (Taobao), masked; empty otherwise.
    pub send_log: String,
}
