//! RabbitMQ through lapin: a connection that reconnects, the topology (ARCHITECTURE §5) under a
//! configurable name prefix, a confirming publisher, a consumer helper with manual acks and
//! bounded prefetch, and the transactional outbox relay.

pub mod consumer;
pub mod event;
pub mod outbox;
pub mod publisher;
pub mod topology;

use std::sync::Arc;
use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

pub use event::{Event, EventType};
pub use topology::{QueueName, Topology};

/// A shared AMQP connection, re-established (and the topology re-declared) when it breaks.
pub struct Mq {
    url: SecretString,
    name: String,
    pub topology: Topology,
    conn: Mutex<Option<Arc<Connection>>>,
}

impl Mq {
    /// Connects and declares the topology, retrying for up to `wait` while the broker starts.
    pub async fn connect(
        url: SecretString,
        name: &str,
        topology: Topology,
        wait: Duration,
    ) -> anyhow::Result<Arc<Mq>> {
        let mq = Arc::new(Mq {
            url,
            name: name.to_owned(),
            topology,
            conn: Mutex::new(None),
        });
        crate::retry::reconnect()
            .retry_for(wait, "broker", || mq.connection())
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to RabbitMQ: {e}"))?;
        Ok(mq)
    }

    /// The live connection, reconnecting first if the previous one was lost.
    pub async fn connection(&self) -> anyhow::Result<Arc<Connection>> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref()
            && c.status().connected()
        {
            return Ok(c.clone());
        }
        let props = ConnectionProperties::default().with_connection_name(self.name.clone().into());
        let conn = Connection::connect(self.url.expose_secret(), props)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let conn = Arc::new(conn);
        let ch = conn.create_channel().await?;
        self.topology.declare(&ch).await?;
        let _ = ch.close(200, "topology declared".into()).await;
        tracing::info!(connection = %self.name, "connected to RabbitMQ");
        *guard = Some(conn.clone());
        Ok(conn)
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(self.connection().await?.create_channel().await?)
    }

    /// Whether the broker connection is up right now (for `/readyz`).
    pub async fn is_connected(&self) -> bool {
        match self.conn.lock().await.as_ref() {
            Some(c) => c.status().connected(),
            None => false,
        }
    }

    pub async fn close(&self) {
        if let Some(c) = self.conn.lock().await.take() {
            let _ = c.close(200, "shutdown".into()).await;
        }
    }
}
