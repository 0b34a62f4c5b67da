//! The recorder: writes finished attempts in batches ([`common::batch::GroupCommit`]). Attempts
//! that finish while a batch is being written are recorded together by the next write: a few
//! multi-row statements and one commit for many callbacks ([`notify::record_attempts`]). Each
//! attempt waits until its batch is committed (or failed), so the sender's concurrency limit also
//! bounds what waits here.

use common::batch::{GroupCommit, Limits, Pending};
use common::db::Pool;
use common::db::notify::{self, Attempt, Outcome};
use common::domain::CallbackTarget;

/// Attempts per batch at most.
const MAX_BATCH: usize = 256;
/// Batches written concurrently: while one commits, the next is collected and written.
const WRITERS: usize = 2;

/// One attempt, owned, waiting to be written.
#[derive(Debug, Clone)]
pub struct Finished {
    pub order_id: u64,
    pub target: CallbackTarget,
    pub attempt_no: i32,
    pub url: String,
    pub request_body: Option<String>,
    pub http_status: Option<u16>,
    pub response_body: Option<String>,
    pub duration_ms: u32,
    pub outcome: Outcome,
    pub error: Option<String>,
}

impl Finished {
    fn as_attempt(&self) -> Attempt<'_> {
        Attempt {
            order_id: self.order_id,
            target: self.target,
            attempt_no: self.attempt_no,
            url: &self.url,
            request_body: self.request_body.as_deref(),
            http_status: self.http_status,
            response_body: self.response_body.as_deref(),
            duration_ms: self.duration_ms,
            outcome: self.outcome,
            error: self.error.as_deref(),
        }
    }
}

type Job = Pending<Finished, bool>;

/// Handle to the recorder's writers (which end when every handle is dropped).
#[derive(Clone)]
pub struct Recorder {
    queue: GroupCommit<Finished, bool>,
}

impl Recorder {
    /// Starts the recorder's writers on the current runtime.
    pub fn start(db: Pool) -> Recorder {
        let limits = Limits {
            writers: WRITERS,
            queue: MAX_BATCH * WRITERS,
            max_items: MAX_BATCH,
            max_weight: None,
        };
        let queue = GroupCommit::start(limits, move |batch| {
            let db = db.clone();
            async move { write(&db, batch).await }
        });
        Recorder { queue }
    }

    /// Records one attempt; returns whether it was written. When it was not, the order stays
    /// pending and its lease makes it due again (one extra identical callback).
    pub async fn record(&self, attempt: Finished) -> bool {
        self.queue.submit(attempt).await.unwrap_or(false)
    }
}

async fn write(db: &Pool, batch: Vec<Job>) {
    let attempts: Vec<Attempt<'_>> = batch.iter().map(|p| p.item.as_attempt()).collect();
    let ok = match notify::record_attempts(db, &attempts).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                attempts = batch.len(),
                error = %e,
                "cannot record callback attempts; their leases will resend them"
            );
            false
        }
    };
    drop(attempts);
    for p in batch {
        p.reply(ok);
    }
}
