//! Exchanges, queues and bindings, declared idempotently by every service at start.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// A redelivered message that keeps failing goes to the dead-letter queue after this many
/// deliveries instead of blocking its queue.
pub const DELIVERY_LIMIT: i64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    FulfillmentOrders,
    NotifierCallbacks,
    AgisoDeliveries,
    DeadLetters,
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::FulfillmentOrders,
        QueueName::NotifierCallbacks,
        QueueName::AgisoDeliveries,
        QueueName::DeadLetters,
    ];

    pub fn base(self) -> &'static str {
        match self {
            QueueName::FulfillmentOrders => "fulfillment.orders",
            QueueName::NotifierCallbacks => "notifier.callbacks",
            QueueName::AgisoDeliveries => "agiso.deliveries",
            QueueName::DeadLetters => "dead-letters",
        }
    }

    /// Routing-key patterns bound to the queue on the `orders` exchange.
    pub fn bindings(self) -> &'static [&'static str] {
        match self {
            QueueName::FulfillmentOrders => &["order.created.*", "order.refulfil.*"],
            QueueName::NotifierCallbacks => {
                &["order.completed.jd_general", "order.completed.jd_game"]
            }
            QueueName::AgisoDeliveries => &["order.completed.agiso"],
            QueueName::DeadLetters => &[],
        }
    }
}

/// Names under a prefix, so parallel test runs or environments never share queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub prefix: String,
}

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn exchange(&self) -> String {
        format!("{}orders", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}dead-letter", self.prefix)
    }

    pub fn queue(&self, q: QueueName) -> String {
        format!("{}{}", self.prefix, q.base())
    }

    pub async fn declare(&self, ch: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            self.exchange().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            self.dead_letter_exchange().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        for q in QueueName::ALL {
            let mut args = FieldTable::default();
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
            if q != QueueName::DeadLetters {
                args.insert(
                    "x-dead-letter-exchange".into(),
                    AMQPValue::LongString(self.dead_letter_exchange().into()),
                );
                args.insert(
                    "x-delivery-limit".into(),
                    AMQPValue::LongLongInt(DELIVERY_LIMIT),
                );
            }
            let name = self.queue(q);
            ch.queue_declare(
                name.clone().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                args,
            )
            .await?;
            if q == QueueName::DeadLetters {
                ch.queue_bind(
                    name.into(),
                    self.dead_letter_exchange().into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
                continue;
            }
            for key in q.bindings() {
                ch.queue_bind(
                    name.clone().into(),
                    self.exchange().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            }
        }
        Ok(())
    }
}
