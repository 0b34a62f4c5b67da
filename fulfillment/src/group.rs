//! Fulfilling orders in groups: orders whose messages arrive together (grouped by
//! [`common::batch::GroupCommit`]) are fulfilled in one transaction by
//! [`crate::process::fulfil_group`] (one locking read of the orders, one card pick per product,
//! multi-row updates and inserts, one commit). Under load this cuts the database's work per order
//! several-fold. It is the same path a single order takes, as a group of one, so
//! every order keeps the same guarantees. When a group's transaction fails (a deadlock victim,
//! say), its orders are fulfilled one by one, each retried on its own.

use std::collections::HashMap;
use std::sync::Arc;

use common::batch::{GroupCommit, Limits, Pending, Unanswered};

use crate::Fulfiller;
use crate::outcome::Outcome;
use crate::process::{Job, fulfil_group, fulfil_job};

const GROUP_MAX: usize = 16;

type Fulfilment = Pending<Job, anyhow::Result<Outcome>>;

#[derive(Clone)]
pub struct GroupFulfiller {
    queue: GroupCommit<Job, anyhow::Result<Outcome>>,
}

impl GroupFulfiller {
    pub fn start(ctx: Arc<Fulfiller>, writers: usize) -> GroupFulfiller {
        let limits = Limits {
            writers,
            queue: GROUP_MAX * 16,
            max_items: GROUP_MAX,
            max_weight: None,
        };
        let queue = GroupCommit::start(limits, move |group| {
            let ctx = ctx.clone();
            async move { run_group(&ctx, group).await }
        });
        GroupFulfiller { queue }
    }

    /// Fulfils `order_id` (possibly together with others) and tells what happened to it. The
    /// order ends in the caller's span's trace context (the group runs in another task).
    pub async fn fulfil(&self, order_id: u64) -> anyhow::Result<Outcome> {
        self.queue
            .submit(Job::here(order_id))
            .await
            .map_err(|e| match e {
                Unanswered::Stopped => anyhow::anyhow!("group fulfiller stopped"),
                Unanswered::Dropped => anyhow::anyhow!("group fulfiller dropped the order"),
            })?
    }
}

async fn run_group(ctx: &Fulfiller, group: Vec<Fulfilment>) {
    let handled = if group.len() > 1 {
        let jobs: Vec<Job> = group.iter().map(|p| p.item.clone()).collect();
        match fulfil_group(ctx, &jobs).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "group fulfilment failed; fulfilling one by one");
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    for p in group {
        let result = match handled.get(&p.item.order_id) {
            Some(outcome) => Ok(*outcome),
            None => fulfil_job(ctx, p.item.clone()).await,
        };
        p.reply(result);
    }
}
