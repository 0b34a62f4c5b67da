//! The import pages: the form and the preview, with masked samples.

use crate::web::select::SelectOption;

use askama::Template;
use common::db::cards;
use common::domain::card_import::CardLine;

use crate::web::page::{self, Chrome};

#[derive(Template)]
#[template(path = "cards/import.html")]
pub(super) struct ImportPage {
    pub(super) chrome: Chrome,
    pub(super) products: Vec<SelectOption>,
    pub(super) error: Option<String>,
    pub(super) max_mb: usize,
}

pub(super) struct Sample {
    pub(super) line_no: usize,
    pub(super) card_no: String,
    pub(super) password: String,
    pub(super) expires: String,
    pub(super) note: String,
}

pub(super) struct Invalid {
    pub(super) line_no: usize,
    pub(super) reason: &'static str,
}

#[derive(Template)]
#[template(path = "cards/preview.html")]
pub(super) struct PreviewPage {
    pub(super) chrome: Chrome,
    pub(super) product_id: u64,
    pub(super) product: String,
    pub(super) source: String,
    pub(super) encoding: &'static str,
    pub(super) total: String,
    pub(super) new: String,
    pub(super) dup_in_file: String,
    pub(super) dup_in_stock: String,
    pub(super) invalid: String,
    pub(super) new_samples: Vec<Sample>,
    pub(super) dup_file_samples: Vec<Sample>,
    pub(super) dup_stock_samples: Vec<Sample>,
    /// Cards held by other products: "商品「X」2 张", one entry per product.
    pub(super) held_elsewhere: Vec<String>,
    pub(super) invalid_lines: Vec<Invalid>,
    pub(super) invalid_more: usize,
    /// Empty when there is nothing to import.
    pub(super) draft: String,
    pub(super) ttl_minutes: i64,
}

/// A line for the preview, masked.
pub(super) fn sample(card: &CardLine, line_no: usize, note: String) -> Sample {
    Sample {
        line_no,
        card_no: page::mask_card_no(&card.card_no),
        password: page::mask_card_password(&card.password),
        expires: card
            .expires_on
            .map(|d| d.to_string())
            .unwrap_or_else(|| "长期有效".into()),
        note,
    }
}

/// Why a card already in stock is not imported: which product holds it, and its status there.
pub(super) fn stocked_note(product_id: u64, h: &cards::Holder) -> String {
    let status = h.status.label_zh();
    if h.product_id == product_id {
        format!("本商品库存中已有（{status}）")
    } else {
        format!(
            "已在其他商品「{}」（#{}）的库存中（{status}），同一张卡密只能售出一次",
            h.product_name, h.product_id
        )
    }
}
