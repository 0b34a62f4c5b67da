//! The consumer's handler for `fulfillment.orders`: new orders go to the group fulfiller,
//! 重新履约 straight to [`crate::process::fulfil`]; the outcome decides ack, requeue or dead letter.

use common::mq::EventType;
use common::mq::consumer::{Disposition, Received};

use crate::Fulfiller;
use crate::group::GroupFulfiller;
use crate::outcome::Outcome;
use crate::process::fulfil;

/// The consumer's handler for `fulfillment.orders`.
/// The processing span is a child of the message's `traceparent` (the span that produced it).
pub async fn handle(ctx: &Fulfiller, group: &GroupFulfiller, msg: Received) -> Disposition {
    use tracing::Instrument;
    let span = tracing::info_span!("fulfil", order_id = msg.event.order_id, event_id = %msg.event.event_id);
    common::telemetry::set_remote_parent(&span, msg.traceparent.as_deref());
    handle_in_span(ctx, group, msg).instrument(span).await
}

async fn handle_in_span(ctx: &Fulfiller, group: &GroupFulfiller, msg: Received) -> Disposition {
    match msg.event.kind {
        EventType::OrderCreated | EventType::OrderRefulfil => {
            let outcome = match msg.event.kind {
                EventType::OrderCreated => group.fulfil(msg.event.order_id).await,
                _ => fulfil(ctx, msg.event.order_id).await,
            };
            match outcome {
                Ok(Outcome::UnknownOrder) => {
                    tracing::error!(
                        order_id = msg.event.order_id,
                        "message for an unknown order; dead-lettering it"
                    );
                    Disposition::DeadLetter
                }
                Ok(outcome) => {
                    tracing::info!(order_id = msg.event.order_id, ?outcome, "order handled");
                    Disposition::Ack
                }
                Err(e) => {
                    tracing::warn!(order_id = msg.event.order_id, error = %format!("{e:#}"), "fulfilment failed; will retry");
                    Disposition::Requeue
                }
            }
        }
        other => {
            tracing::error!(
                kind = other.as_str(),
                "unexpected message on fulfillment.orders; dead-lettering it"
            );
            Disposition::DeadLetter
        }
    }
}
