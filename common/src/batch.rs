//! Group commit: the one batcher of the services. Callers submit items one at a time and each
//! waits for its own reply; `writers` tasks take the items from one bounded queue and hand each
//! group to the caller's "write this group" function, which writes it in one transaction and
//! replies per item. The gateway's order writer, fulfilment's groups and the notifier's attempt
//! recorder all use it; only what they write differs.
//!
//! A group is what is queued when a writer is free, never more: a writer takes the first waiting
//! item, then whatever else is already queued (up to the item and weight limits), and writes at
//! once. Alone, an item is written without waiting; under load, the items that arrive while the
//! writers commit form the next groups. There is no timer.
//!
//! Every submitter gets an answer or an error: an item its group's function dropped without a
//! reply (it panicked, or forgot) answers [`Unanswered::Dropped`]; a panicking write function is
//! logged and its writer goes on with the next group. The writers end when every handle is
//! dropped, after writing what was still queued.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::{Mutex, mpsc, oneshot};

/// How a [`GroupCommit`] is shaped.
pub struct Limits<I> {
    /// Groups written concurrently (at least one).
    pub writers: usize,
    /// Items the queue holds before [`GroupCommit::submit`] waits for room (at least one).
    pub queue: usize,
    /// Items per group at most (at least one).
    pub max_items: usize,
    /// Weight per group: `(max, weight_of)`. A group is closed once its items weigh `max` or
    /// more (the item that reaches it is included; an item heavier than `max` goes alone).
    pub max_weight: Option<(usize, WeightOf<I>)>,
}

/// An item's weight (bytes of data, say) for [`Limits::max_weight`].
pub type WeightOf<I> = fn(&I) -> usize;

impl<I> Clone for Limits<I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Limits<I> {}

/// One submitted item and the way back to its submitter.
pub struct Pending<I, R> {
    pub item: I,
    reply: oneshot::Sender<R>,
}

impl<I, R> Pending<I, R> {
    /// Answers this item's submitter (who may have given up waiting: then nobody hears it).
    pub fn reply(self, answer: R) {
        let _ = self.reply.send(answer);
    }
}

/// Why a submitter got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unanswered {
    /// The writers have stopped: nothing was queued.
    #[error("the group writers have stopped")]
    Stopped,
    /// The item was taken into a group that ended without answering it (its write function
    /// panicked or dropped it).
    #[error("the group writer dropped the item without an answer")]
    Dropped,
}

/// Handle to a group-commit queue and its writers; cheap to clone.
pub struct GroupCommit<I, R> {
    queue: mpsc::Sender<Pending<I, R>>,
}

impl<I, R> Clone for GroupCommit<I, R> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
        }
    }
}

impl<I, R> GroupCommit<I, R>
where
    I: Send + 'static,
    R: Send + 'static,
{
    /// Starts the writers on the current runtime. `write` gets each group (in queue order) and
    /// must reply to every item in it.
    pub fn start<W, F>(limits: Limits<I>, write: W) -> GroupCommit<I, R>
    where
        W: Fn(Vec<Pending<I, R>>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (queue, rx) = mpsc::channel::<Pending<I, R>>(limits.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let write = Arc::new(write);
        for _ in 0..limits.writers.max(1) {
            let (rx, write) = (rx.clone(), write.clone());
            tokio::spawn(async move {
                while let Some(group) = take_group(&rx, &limits).await {
                    let written = AssertUnwindSafe(async { write(group).await })
                        .catch_unwind()
                        .await;
                    if let Err(panic) = written {
                        let what = panic
                            .downcast_ref::<&str>()
                            .copied()
                            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                            .unwrap_or("?");
                        tracing::error!(
                            panic = what,
                            "group writer panicked; its unanswered items get an error"
                        );
                    }
                }
            });
        }
        GroupCommit { queue }
    }

    /// Queues `item` (waiting for room when the queue is full) and waits for its reply.
    pub async fn submit(&self, item: I) -> Result<R, Unanswered> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { item, reply })
            .await
            .map_err(|_| Unanswered::Stopped)?;
        answer.await.map_err(|_| Unanswered::Dropped)
    }

    /// Items queued and not yet taken by a writer.
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

/// The next group: the first waiting item, then what is already queued, within the limits.
/// `None` once every handle is dropped and the queue is empty.
async fn take_group<I, R>(
    rx: &Mutex<mpsc::Receiver<Pending<I, R>>>,
    limits: &Limits<I>,
) -> Option<Vec<Pending<I, R>>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let (max_weight, weight_of) = limits.max_weight.unwrap_or((usize::MAX, |_| 0));
    let mut weight = weight_of(&first.item);
    let mut group = Vec::new();
    group.push(first);
    while group.len() < limits.max_items && weight < max_weight {
        match rx.try_recv() {
            Ok(p) => {
                weight += weight_of(&p.item);
                group.push(p);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::time::{Duration, Instant};

    use tokio::sync::Semaphore;

    use super::*;

    /// Groups as the write function saw them.
    type Seen = Arc<StdMutex<Vec<Vec<u32>>>>;

    fn limits(writers: usize, max_items: usize) -> Limits<u32> {
        Limits {
            writers,
            queue: 1024,
            max_items,
            max_weight: None,
        }
    }

    /// A batcher whose write function records each group, then waits for one permit of `gate`
    /// per group before answering every item with `item * 10`.
    fn gated(limits: Limits<u32>, gate: Arc<Semaphore>) -> (GroupCommit<u32, u32>, Seen) {
        let seen = Seen::default();
        let s = seen.clone();
        let batcher = GroupCommit::start(limits, move |group: Vec<Pending<u32, u32>>| {
            s.lock()
                .unwrap()
                .push(group.iter().map(|p| p.item).collect());
            let gate = gate.clone();
            async move {
                gate.acquire().await.unwrap().forget();
                for p in group {
                    let answer = p.item * 10;
                    p.reply(answer);
                }
            }
        });
        (batcher, seen)
    }

    /// Waits (bounded) until `done` holds.
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Submits `item` from a task of its own once the items before it are queued, so the queue
    /// holds them in submission order.
    async fn submit_in_order(
        batcher: &GroupCommit<u32, u32>,
        items: &[u32],
    ) -> Vec<tokio::task::JoinHandle<Result<u32, Unanswered>>> {
        let mut tasks = Vec::new();
        for (n, item) in items.iter().copied().enumerate() {
            let b = batcher.clone();
            tasks.push(tokio::spawn(async move { b.submit(item).await }));
            until("the item is queued", || batcher.queued() == n + 1).await;
        }
        tasks
    }

    #[test]
    fn a_lone_item_is_written_at_once() {
        // A runtime without a time driver: a batcher that used a timer would panic, one that
        // waited for a group to fill would never answer.
        let (done, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let result = rt.block_on(async {
                let (batcher, seen) = gated(limits(1, 16), Arc::new(Semaphore::new(100)));
                let answer = batcher.submit(7).await;
                (answer, seen.lock().unwrap().clone())
            });
            let _ = done.send(result);
        });
        let (answer, seen) = answer
            .recv_timeout(Duration::from_secs(10))
            .expect("a lone item was held back");
        assert_eq!(answer, Ok(70));
        assert_eq!(seen, vec![vec![7]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_queued_while_a_group_is_written_form_the_next_group() {
        let gate = Arc::new(Semaphore::new(0));
        let (batcher, seen) = gated(limits(1, 16), gate.clone());
        let b = batcher.clone();
        let first = tokio::spawn(async move { b.submit(1).await });
        until("the first item is being written", || {
            seen.lock().unwrap().len() == 1
        })
        .await;
        let rest: Vec<_> = (2..=11)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { b.submit(i).await })
            })
            .collect();
        until("ten items are queued", || batcher.queued() == 10).await;
        gate.add_permits(100);
        assert_eq!(first.await.unwrap(), Ok(10));
        for (i, task) in (2..=11).zip(rest) {
            assert_eq!(task.await.unwrap(), Ok(i * 10));
        }
        let mut seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        seen[1].sort_unstable();
        assert_eq!(seen, vec![vec![1], (2..=11).collect::<Vec<_>>()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_keep_to_the_item_and_weight_limits() {
        let gate = Arc::new(Semaphore::new(0));
        let limits = Limits {
            writers: 1,
            queue: 1024,
            max_items: 4,
            max_weight: Some((10, |w: &u32| *w as usize)),
        };
        let (batcher, seen) = gated(limits, gate.clone());
        let b = batcher.clone();
        let blocker = tokio::spawn(async move { b.submit(3).await });
        until("the blocker is being written", || {
            seen.lock().unwrap().len() == 1
        })
        .await;
        let items = [1, 1, 1, 1, 1, 9, 2, 5, 5, 50, 1];
        let tasks = submit_in_order(&batcher, &items).await;
        gate.add_permits(100);
        assert_eq!(blocker.await.unwrap(), Ok(30));
        for (item, task) in items.into_iter().zip(tasks) {
            assert_eq!(task.await.unwrap(), Ok(item * 10));
        }
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                vec![3],
                vec![1, 1, 1, 1], // four items at most
                vec![1, 9],       // weight 10 reached
                vec![2, 5, 5],    // 7 < 10, so one more
                vec![50],         // heavier than the limit: alone
                vec![1],
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_write_groups_concurrently() {
        let gate = Arc::new(Semaphore::new(0));
        let (batcher, seen) = gated(limits(2, 16), gate.clone());
        let b = batcher.clone();
        let first = tokio::spawn(async move { b.submit(1).await });
        until("one group is being written", || {
            seen.lock().unwrap().len() == 1
        })
        .await;
        let b = batcher.clone();
        let second = tokio::spawn(async move { b.submit(2).await });
        // The second writer takes it while the first is still blocked.
        until("two groups are being written", || {
            seen.lock().unwrap().len() == 2
        })
        .await;
        gate.add_permits(2);
        assert_eq!(first.await.unwrap(), Ok(10));
        assert_eq!(second.await.unwrap(), Ok(20));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_reply_reaches_its_own_submitter() {
        // Replies are sent in reverse order within each group and depend on the item.
        let batcher =
            GroupCommit::start(limits(2, 8), |group: Vec<Pending<u32, u32>>| async move {
                tokio::task::yield_now().await;
                for p in group.into_iter().rev() {
                    let answer = p.item * 3 + 1;
                    p.reply(answer);
                }
            });
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.submit(i).await) })
            })
            .collect();
        for task in tasks {
            let (i, answer) = task.await.unwrap();
            assert_eq!(answer, Ok(i * 3 + 1));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_panics_or_drops_items_answers_with_an_error_and_goes_on() {
        let batcher =
            GroupCommit::start(limits(1, 16), |group: Vec<Pending<u32, u32>>| async move {
                for p in group {
                    match p.item {
                        0 => panic!("write failed"),
                        1 => drop(p),
                        n => p.reply(n),
                    }
                }
            });
        assert_eq!(batcher.submit(0).await, Err(Unanswered::Dropped));
        assert_eq!(batcher.submit(1).await, Err(Unanswered::Dropped));
        // The one writer survived both.
        assert_eq!(batcher.submit(2).await, Ok(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_stop_when_every_handle_is_dropped() {
        // The write function holds `alive`; the writers drop it when they end.
        let (alive, mut stopped) = mpsc::channel::<()>(1);
        let batcher = GroupCommit::start(limits(3, 16), move |group: Vec<Pending<u32, u32>>| {
            let _alive = alive.clone();
            async move {
                for p in group {
                    let answer = p.item;
                    p.reply(answer);
                }
            }
        });
        let other = batcher.clone();
        assert_eq!(batcher.submit(5).await, Ok(5));
        drop(batcher);
        assert_eq!(
            other.submit(6).await,
            Ok(6),
            "one handle left keeps them running"
        );
        drop(other);
        let ended = tokio::time::timeout(Duration::from_secs(10), stopped.recv()).await;
        assert_eq!(ended, Ok(None), "the writers did not end");
    }
}
