//! Fulfilling orders in groups: orders whose messages arrive together are fulfilled in one
//! transaction by [`crate::process::fulfil_group`] (one locking read of the orders, one card pick
//! per product, multi-row updates and inserts, one commit). Under load this cuts the database's
//! work per order several-fold. It is the same path a single order takes, as a group of one, so
//! every order keeps the same guarantees. When a group's transaction fails (a deadlock victim,
//! say), its orders are fulfilled one by one, each retried on its own.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::Fulfiller;
use crate::outcome::Outcome;
use crate::process::{fulfil, fulfil_group};

const GROUP_MAX: usize = 16;

type Reply = oneshot::Sender<anyhow::Result<Outcome>>;

#[derive(Clone)]
pub struct GroupFulfiller {
    queue: mpsc::Sender<(u64, Reply)>,
}

impl GroupFulfiller {
    pub fn start(ctx: Arc<Fulfiller>, writers: usize) -> GroupFulfiller {
        let (tx, rx) = mpsc::channel::<(u64, Reply)>(GROUP_MAX * 16);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let (ctx, rx) = (ctx.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let mut group = Vec::new();
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(p) => group.push(p),
                            None => return,
                        }
                        while group.len() < GROUP_MAX {
                            match rx.try_recv() {
                                Ok(p) => group.push(p),
                                Err(_) => break,
                            }
                        }
                    }
                    run_group(&ctx, group).await;
                }
            });
        }
        GroupFulfiller { queue: tx }
    }

    /// Fulfils `order_id` (possibly together with others) and tells what happened to it.
    pub async fn fulfil(&self, order_id: u64) -> anyhow::Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((order_id, reply))
            .await
            .map_err(|_| anyhow::anyhow!("group fulfiller stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("group fulfiller dropped the order"))?
    }
}

async fn run_group(ctx: &Fulfiller, group: Vec<(u64, Reply)>) {
    let ids: Vec<u64> = group.iter().map(|(id, _)| *id).collect();
    let handled = if ids.len() > 1 {
        match fulfil_group(ctx, &ids).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "group fulfilment failed; fulfilling one by one");
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    for (id, reply) in group {
        let result = match handled.get(&id) {
            Some(outcome) => Ok(*outcome),
            None => fulfil(ctx, id).await,
        };
        let _ = reply.send(result);
    }
}
