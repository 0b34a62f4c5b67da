//! Business types shared by every service: money, identifiers, platforms, order status machine.

pub mod card_import;
pub mod card_status;
pub mod failure;
pub mod money;
pub mod order;
pub mod records;
mod sql;
pub mod types;
pub mod url;

pub use card_status::CardStatus;
pub use failure::FailureReason;
pub use money::Fen;
pub use order::{NotifyStatus, OrderStatus, TransitionError};
pub use records::{
    AttemptOutcome, CallbackTarget, DeadLetterStatus, DraftStatus, SupplierOrderStatus,
};
pub use types::*;
pub use url::{UrlProblem, http_url};
