//! The messages: JSON `{event_id, type, order_id, platform, occurred_at, v}`. Messages carry ids,
//! not state; consumers re-read the database.

use serde::{Deserialize, Serialize};

use crate::domain::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "order.created")]
    OrderCreated,
    /// An operator asked for an order to be fulfilled again (重新履约).
    #[serde(rename = "order.refulfil")]
    OrderRefulfil,
    #[serde(rename = "order.completed")]
    OrderCompleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderRefulfil => "order.refulfil",
            EventType::OrderCompleted => "order.completed",
        }
    }
}

pub const EVENT_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: uuid::Uuid,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub order_id: u64,
    pub platform: Platform,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub v: u8,
    /// The W3C `traceparent` of the span that produced the message for this order: carried
    /// beside the payload (the outbox row's column, then the AMQP header), never in it.
    #[serde(skip)]
    pub traceparent: Option<String>,
}

impl Event {
    pub fn new(kind: EventType, order_id: u64, platform: Platform) -> Self {
        Self {
            event_id: uuid::Uuid::now_v7(),
            kind,
            order_id,
            platform,
            occurred_at: chrono::Utc::now(),
            v: EVENT_VERSION,
            traceparent: None,
        }
    }

    /// The message, continuing the trace `traceparent` (see [`Event::traceparent`]).
    pub fn traced(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The message, continuing the current span's trace: for code that handles one order in
    /// its own span (batched writers take each order's context from the order instead).
    pub fn traced_here(self) -> Self {
        self.traced(crate::telemetry::current_traceparent())
    }

    /// `order.created.jd_general` and so on.
    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.kind.as_str(), self.platform.as_str())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("event serialises")
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let e = Event::new(EventType::OrderCreated, 42, Platform::JdGame);
        assert_eq!(e.routing_key(), "order.created.jd_game");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["type"], "order.created");
        assert_eq!(v["order_id"], 42);
        assert_eq!(v["platform"], "jd_game");
        assert_eq!(v["v"], 1);
        assert_eq!(Event::parse(e.to_json().as_bytes()).unwrap(), e);
        assert!(Event::parse(b"{\"type\":\"nope\"}").is_err());
    }
}
