//! Pushes that arrive together are written together ([`common::batch::GroupCommit`]): one
//! transaction, one commit. Alone, a push is written at
//! once. Any error inside a group abandons the whole transaction and the group is written again
//! one push at a time, so every push gets the answer of its own transaction.

use common::batch::{GroupCommit, Limits, Pending};
use common::db::Pool;
use common::db::agiso::Source;

use crate::intake::{self, Accepted};
use crate::shops::AgisoShop;

/// A verified push to store.
pub struct Incoming {
    pub shop: AgisoShop,
    pub aopic: i64,
    pub json: String,
    /// The trace context of the push request (captured by its handler: the writer stores
    /// pushes of several requests at once).
    pub traceparent: Option<String>,
}

type Reply = Result<Accepted, String>;

/// Pushes per transaction at most.
const GROUP_MAX: usize = 32;

#[derive(Clone)]
pub struct PushWriter {
    queue: GroupCommit<Incoming, Reply>,
}

impl PushWriter {
    pub fn start(pool: Pool, writers: usize) -> PushWriter {
        let limits = Limits {
            writers,
            queue: GROUP_MAX * 8,
            max_items: GROUP_MAX,
            max_weight: None,
        };
        let queue = GroupCommit::start(limits, move |group| {
            let pool = pool.clone();
            async move { write_group(&pool, group).await }
        });
        PushWriter { queue }
    }

    /// Stores the push (and what it creates); `Err` with a reason when it could not.
    pub async fn accept(&self, incoming: Incoming) -> Reply {
        self.queue
            .submit(incoming)
            .await
            .map_err(|e| e.to_string())?
    }
}

async fn one(pool: &Pool, item: &Incoming) -> Reply {
    let tp = item.traceparent.as_deref();
    intake::accept(pool, &item.shop, Source::Push, item.aopic, &item.json, tp)
        .await
        .map_err(|e| e.to_string())
}

async fn write_group(pool: &Pool, group: Vec<Pending<Incoming, Reply>>) {
    if group.len() > 1 {
        match together(pool, &group).await {
            Ok(results) => {
                for (p, r) in group.into_iter().zip(results) {
                    intake::count_created(&p.item.shop, Source::Push, &r);
                    p.reply(Ok(r));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, pushes = group.len(), "group push write failed; writing one by one");
            }
        }
    }
    for p in group {
        let r = one(pool, &p.item).await;
        p.reply(r);
    }
}

async fn together(
    pool: &Pool,
    group: &[Pending<Incoming, Reply>],
) -> anyhow::Result<Vec<Accepted>> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(group.len());
    for p in group {
        let i = &p.item;
        let tp = i.traceparent.as_deref();
        out.push(intake::accept_in(&mut tx, &i.shop, Source::Push, i.aopic, &i.json, tp).await?);
    }
    tx.commit().await?;
    Ok(out)
}
