//! The fixed-value columns of the tables around orders: supplier orders, callback attempts,
//! dead letters and card import drafts. Each is an enum stored as its text (`as_str`), mapped
//! by sqlx like the other domain enums (`sql.rs`), so no reader compares strings.

use std::fmt;
use std::str::FromStr;

use super::types::ParseError;

/// An enum of stored text values: `ALL`, `as_str`, `Display` and a `FromStr` that accepts
/// exactly the stored forms.
macro_rules! stored_values {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseError {
                        what: $what,
                        why: "not a value this version knows",
                    }),
                }
            }
        }
    };
}

stored_values! {
    /// Where one order stands with one supplier (`supplier_orders.status`).
    SupplierOrderStatus ("supplier order status") {
        /// Queued, not sent yet.
        Pending = "pending",
        /// Sent (or possibly sent): ask the supplier before sending again.
        Submitted = "submitted",
        Succeeded = "succeeded",
        Failed = "failed",
        /// No final answer in time, or the order was settled elsewhere: an operator checks.
        Unknown = "unknown",
    }
}

impl SupplierOrderStatus {
    /// The label operators see.
    pub fn label_zh(self) -> &'static str {
        match self {
            SupplierOrderStatus::Pending => "待提交",
            SupplierOrderStatus::Submitted => "已提交",
            SupplierOrderStatus::Succeeded => "成功",
            SupplierOrderStatus::Failed => "失败",
            SupplierOrderStatus::Unknown => "结果未知",
        }
    }

    /// Whether the supplier's answer was final (nothing more will change this row).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SupplierOrderStatus::Succeeded | SupplierOrderStatus::Failed
        )
    }
}

stored_values! {
    /// Whom an outbound call went to (`callback_attempts.target`).
    CallbackTarget ("callback target") {
        JdGeneral = "jd_general",
        JdGame = "jd_game",
        Agiso = "agiso",
        Supplier = "supplier",
    }
}

impl CallbackTarget {
    /// The label operators see.
    pub fn label_zh(self) -> &'static str {
        match self {
            CallbackTarget::JdGeneral => super::Platform::JdGeneral.label_zh(),
            CallbackTarget::JdGame => super::Platform::JdGame.label_zh(),
            CallbackTarget::Agiso => super::Platform::Agiso.label_zh(),
            CallbackTarget::Supplier => "供应商",
        }
    }
}

impl From<super::Platform> for CallbackTarget {
    fn from(p: super::Platform) -> CallbackTarget {
        match p {
            super::Platform::JdGeneral => CallbackTarget::JdGeneral,
            super::Platform::JdGame => CallbackTarget::JdGame,
            super::Platform::Agiso => CallbackTarget::Agiso,
        }
    }
}

stored_values! {
    /// What became of one outbound call (`callback_attempts.outcome`): a platform callback's
    /// result, or the answer a supplier gave.
    AttemptOutcome ("attempt outcome") {
        /// The platform took the callback.
        Delivered = "delivered",
        /// Not taken; tried again later.
        Retry = "retry",
        /// Not taken; no more tries.
        GivingUp = "giving_up",
        /// No usable answer (transport error, unknown answer).
        Error = "error",
        /// The supplier recharged.
        Success = "success",
        /// The supplier refused or failed the recharge.
        Failed = "failed",
        /// The supplier is still working on it.
        Processing = "processing",
        /// The supplier does not know the order.
        NotFound = "not_found",
    }
}

stored_values! {
    /// What an operator did with a dead letter (`dead_letters.status`).
    DeadLetterStatus ("dead letter status") {
        Pending = "pending",
        Replayed = "replayed",
        Discarded = "discarded",
    }
}

stored_values! {
    /// A card import waiting for its commit, or done (`card_import_drafts.status`).
    DraftStatus ("card import draft status") {
        Pending = "pending",
        Committed = "committed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: FromStr + Copy + PartialEq + fmt::Debug>(
        all: &[T],
        text: fn(T) -> &'static str,
    ) {
        for v in all {
            assert_eq!(text(*v).parse::<T>().ok(), Some(*v));
        }
    }

    #[test]
    fn stored_forms_read_back() {
        round_trip(SupplierOrderStatus::ALL, SupplierOrderStatus::as_str);
        round_trip(CallbackTarget::ALL, CallbackTarget::as_str);
        round_trip(AttemptOutcome::ALL, AttemptOutcome::as_str);
        round_trip(DeadLetterStatus::ALL, DeadLetterStatus::as_str);
        round_trip(DraftStatus::ALL, DraftStatus::as_str);
        assert!("Pending".parse::<SupplierOrderStatus>().is_err());
        assert!("jd-game".parse::<CallbackTarget>().is_err());
        assert_eq!(
            CallbackTarget::from(crate::domain::Platform::JdGame).as_str(),
            crate::domain::Platform::JdGame.as_str()
        );
    }
}
