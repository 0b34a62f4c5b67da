//! The recorder: writes finished attempts in batches. Attempts that finish while a batch is
//! being written (or within [`LINGER`] of the first one) are recorded together by the next
//! write: a few multi-row statements and one commit for many callbacks
//! ([`notify::record_attempts`]). Each attempt waits until its batch is committed (or failed),
//! so the sender's concurrency limit also bounds what waits here.

use std::sync::Arc;
use std::time::Duration;

use common::db::Pool;
use common::db::notify::{self, Attempt, Outcome};
use common::domain::CallbackTarget;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// How long the first attempt of a batch waits for others.
const LINGER: Duration = Duration::from_millis(2);
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

type Job = (Finished, oneshot::Sender<bool>);

/// Handle to the recorder task (which ends when every handle is dropped).
#[derive(Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Job>,
}

impl Recorder {
    /// Starts the recorder task on the current runtime.
    pub fn start(db: Pool) -> Recorder {
        let (queue, rx) = mpsc::channel(MAX_BATCH * WRITERS);
        tokio::spawn(run(db, rx));
        Recorder { queue }
    }

    /// Records one attempt; returns whether it was written. When it was not, the order stays
    /// pending and its lease makes it due again (one extra identical callback).
    pub async fn record(&self, attempt: Finished) -> bool {
        let (reply, done) = oneshot::channel();
        if self.queue.send((attempt, reply)).await.is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }
}

async fn run(db: Pool, mut rx: mpsc::Receiver<Job>) {
    let writers = Arc::new(Semaphore::new(WRITERS));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => batch.push(job),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        // While both writers are busy, attempts queue up and go into the next batch.
        let Ok(permit) = writers.clone().acquire_owned().await else {
            return;
        };
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let db = db.clone();
        tokio::spawn(async move {
            write(&db, batch).await;
            drop(permit);
        });
    }
    // Channel closed: let the last writes finish.
    let _ = writers.acquire_many(WRITERS as u32).await;
}

async fn write(db: &Pool, batch: Vec<Job>) {
    let attempts: Vec<Attempt<'_>> = batch.iter().map(|(f, _)| f.as_attempt()).collect();
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
    for (_, reply) in batch {
        let _ = reply.send(ok);
    }
}
