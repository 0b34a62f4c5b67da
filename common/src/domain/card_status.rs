//! The status of one card in stock (`cards.status`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::types::ParseError;

/// Where a card is in its life. Only `Available` cards are ever picked for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// In stock, sellable (unless past its expiry date).
    Available,
    /// Issued to an order (`order_id`, `sold_at`).
    Sold,
    /// Withdrawn by an operator.
    Void,
    /// Handed out in clear text by a batch export: no longer sold by us.
    Exported,
}

impl CardStatus {
    pub const ALL: [CardStatus; 4] = [
        CardStatus::Available,
        CardStatus::Sold,
        CardStatus::Void,
        CardStatus::Exported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Available => "available",
            CardStatus::Sold => "sold",
            CardStatus::Void => "void",
            CardStatus::Exported => "exported",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            CardStatus::Available => "可用",
            CardStatus::Sold => "已售",
            CardStatus::Void => "作废",
            CardStatus::Exported => "已导出",
        }
    }
}

impl fmt::Display for CardStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CardStatus {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CardStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(ParseError {
                what: "card status",
                why: "expected available, sold, void or exported",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in CardStatus::ALL {
            assert_eq!(s.as_str().parse::<CardStatus>(), Ok(s));
        }
        assert!("Available".parse::<CardStatus>().is_err());
        assert_eq!(CardStatus::Exported.label_zh(), "已导出");
    }
}
