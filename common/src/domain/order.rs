//! The order status machine. One column, guarded transitions; the repository records every
//! transition as an `order_events` row in the same transaction as the status change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an order is in its life. `Succeeded` and `Failed` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Received,
    Processing,
    AwaitingManual,
    AwaitingStock,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("illegal order transition {from} -> {to}")]
    Illegal { from: OrderStatus, to: OrderStatus },
    #[error("order {order_id} is not in status {expected} (concurrent change)")]
    Stale {
        order_id: u64,
        expected: OrderStatus,
    },
    #[error("unknown order status {0:?}")]
    Unknown(String),
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Received,
        OrderStatus::Processing,
        OrderStatus::AwaitingManual,
        OrderStatus::AwaitingStock,
        OrderStatus::Succeeded,
        OrderStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Received => "received",
            OrderStatus::Processing => "processing",
            OrderStatus::AwaitingManual => "awaiting_manual",
            OrderStatus::AwaitingStock => "awaiting_stock",
            OrderStatus::Succeeded => "succeeded",
            OrderStatus::Failed => "failed",
        }
    }

    /// The label operators see.
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderStatus::Received => "已接收",
            OrderStatus::Processing => "处理中",
            OrderStatus::AwaitingManual => "待人工处理",
            OrderStatus::AwaitingStock => "等待补货",
            OrderStatus::Succeeded => "成功",
            OrderStatus::Failed => "失败",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Succeeded | OrderStatus::Failed)
    }

    /// The transitions the business allows. Final states never change: JD refunds on failure
    /// and has the cards on success, so neither may be undone.
    pub fn can_transition_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        match self {
            Received => matches!(
                to,
                Processing | AwaitingManual | AwaitingStock | Succeeded | Failed
            ),
            Processing => matches!(to, AwaitingManual | AwaitingStock | Succeeded | Failed),
            AwaitingStock => matches!(to, Processing | AwaitingManual | Succeeded | Failed),
            AwaitingManual => matches!(to, Processing | Succeeded | Failed),
            Succeeded | Failed => false,
        }
    }

    pub fn check_transition(self, to: OrderStatus) -> Result<(), TransitionError> {
        if self.can_transition_to(to) {
            Ok(())
        } else {
            Err(TransitionError::Illegal { from: self, to })
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = TransitionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| TransitionError::Unknown(s.to_owned()))
    }
}

/// Whether the platform has been told the result. Separate from the order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyStatus {
    Pending,
    Delivered,
    GivingUp,
    NotRequired,
}

impl NotifyStatus {
    pub const ALL: [NotifyStatus; 4] = [
        NotifyStatus::Pending,
        NotifyStatus::Delivered,
        NotifyStatus::GivingUp,
        NotifyStatus::NotRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyStatus::Pending => "pending",
            NotifyStatus::Delivered => "delivered",
            NotifyStatus::GivingUp => "giving_up",
            NotifyStatus::NotRequired => "not_required",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            NotifyStatus::Pending => "待通知",
            NotifyStatus::Delivered => "已送达",
            NotifyStatus::GivingUp => "已放弃",
            NotifyStatus::NotRequired => "无需通知",
        }
    }
}

impl fmt::Display for NotifyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotifyStatus {
    type Err = TransitionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotifyStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| TransitionError::Unknown(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn final_states_are_immutable() {
        for to in OrderStatus::ALL {
            assert!(Succeeded.check_transition(to).is_err(), "succeeded -> {to}");
            assert!(Failed.check_transition(to).is_err(), "failed -> {to}");
        }
    }

    #[test]
    fn no_self_transitions() {
        for st in OrderStatus::ALL {
            assert_eq!(
                st.check_transition(st),
                Err(TransitionError::Illegal { from: st, to: st })
            );
        }
    }

    #[test]
    fn legal_paths() {
        assert!(Received.can_transition_to(Processing));
        assert!(Processing.can_transition_to(Succeeded));
        assert!(Processing.can_transition_to(AwaitingStock));
        assert!(AwaitingStock.can_transition_to(Processing));
        assert!(AwaitingStock.can_transition_to(Failed));
        assert!(AwaitingManual.can_transition_to(Succeeded));
        assert!(!AwaitingManual.can_transition_to(AwaitingStock));
        assert!(!Processing.can_transition_to(Received));
    }

    #[test]
    fn parse_round_trip() {
        for st in OrderStatus::ALL {
            assert_eq!(st.as_str().parse::<OrderStatus>().unwrap(), st);
        }
        for st in NotifyStatus::ALL {
            assert_eq!(st.as_str().parse::<NotifyStatus>().unwrap(), st);
        }
        assert!("done".parse::<OrderStatus>().is_err());
    }
}
