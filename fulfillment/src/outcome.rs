//! What fulfilling an order did, and who the timeline says did it: shared by the fulfilment
//! path, the group fulfiller, the stock watcher and the supplier adapter. A leaf: it names no
//! other module of this crate.

/// The actor recorded on the timeline for everything this service does.
pub const ACTOR: &str = "fulfillment";

/// What fulfilling an order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The order was not waiting for fulfilment (a repeated message): nothing changed.
    AlreadyHandled,
    Succeeded,
    Failed,
    AwaitingStock,
    AwaitingManual,
    /// The message names no order in this database.
    UnknownOrder,
}
