//! Writers that commit together whatever is waiting (group commit). Used for the creates
//! (`api::group_commit`) and the delivered callbacks (`jobs::delivered`): under load a
//! transaction's fixed costs (BEGIN, COMMIT and its WAL flush, the round trips), not its rows,
//! are most of PostgreSQL's work.
//!
//! An item is queued. If a writer is free it starts at once, takes everything queued (up to
//! the batch size), commits it with the batcher's function, answers each item, and takes the
//! next lot until nothing waits. Nobody waits for a batch to fill: an item that finds a writer
//! free is written at once, alone; items that arrive while every writer is busy form the next
//! batch.
//!
//! Writers run on the runtime that built the batcher (the main one, which lives as long as the
//! process), not on the caller's: an HTTP worker's runtime ends in a graceful stop, and a
//! writer carrying other callers' items must not end with it.

use futures_util::future::BoxFuture;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Commits a batch and returns one answer per item, in the items' order.
type Commit<T, R> = Box<dyn Fn(Vec<T>) -> BoxFuture<'static, Vec<R>> + Send + Sync>;

pub struct Batcher<T, R> {
    inner: Arc<Inner<T, R>>,
}

struct Inner<T, R> {
    queue: Mutex<VecDeque<(T, oneshot::Sender<R>)>>,
    /// One permit per writer.
    writers: Arc<Semaphore>,
    max_batch: usize,
    commit: Commit<T, R>,
    runtime: tokio::runtime::Handle,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// At most `writers` batches at once, each of at most `max_batch` items, committed by
    /// `commit`, which must answer every item of its batch, in order. Must be called inside a
    /// Tokio runtime.
    pub fn new(
        writers: usize,
        max_batch: usize,
        commit: impl Fn(Vec<T>) -> BoxFuture<'static, Vec<R>> + Send + Sync + 'static,
    ) -> Self {
        Batcher {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                writers: Arc::new(Semaphore::new(writers.max(1))),
                max_batch: max_batch.max(1),
                commit: Box::new(commit),
                runtime: tokio::runtime::Handle::current(),
            }),
        }
    }

    /// Queues `item` and answers once its batch has been committed (or not). `None` if its
    /// writer stopped without answering (it panicked): nothing of its batch was committed.
    pub async fn submit(&self, item: T) -> Option<R> {
        let (reply, answer) = oneshot::channel();
        self.inner.queue().push_back((item, reply));
        if let Ok(permit) = self.inner.writers.clone().try_acquire_owned() {
            let inner = self.inner.clone();
            self.inner.runtime.spawn(inner.write(permit));
        }
        answer.await.ok()
    }
}

impl<T, R> Inner<T, R> {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<(T, oneshot::Sender<R>)>> {
        // The queue is only pushed to and drained, so a panic elsewhere cannot leave it
        // half-changed.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes batches while items are queued, then gives its permit back.
    async fn write(self: Arc<Self>, mut permit: OwnedSemaphorePermit) {
        loop {
            let (items, replies): (Vec<T>, Vec<oneshot::Sender<R>>) = {
                let mut queue = self.queue();
                let n = queue.len().min(self.max_batch);
                queue.drain(..n).unzip()
            };
            if items.is_empty() {
                drop(permit);
                // An item queued after the drain above, while this writer still held its
                // permit, found no writer free and started none: take it.
                if self.queue().is_empty() {
                    return;
                }
                match self.writers.clone().try_acquire_owned() {
                    Ok(p) => permit = p,
                    // Another writer took the permit, and will see the item.
                    Err(_) => return,
                }
                continue;
            }
            let answers = (self.commit)(items).await;
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Items sent while the one writer is busy are committed together, each gets its own
    /// answer, and a batch answered short leaves its unanswered items with `None`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_items_are_committed_together_each_with_its_answer() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let gate = Arc::new(tokio::sync::Notify::new());
        let first = Arc::new(AtomicUsize::new(0));
        let (g, f) = (gate.clone(), first.clone());
        let batcher = Arc::new(Batcher::new(1, 3, move |items: Vec<u32>| {
            let (seen, gate, first) = (seen.clone(), g.clone(), f.clone());
            Box::pin(async move {
                // The first batch waits until the others are queued behind it.
                if first.fetch_add(1, Ordering::SeqCst) == 0 {
                    gate.notified().await;
                }
                seen.lock().unwrap().push(items.clone());
                // 99 is answered short: its caller gets None.
                items
                    .into_iter()
                    .filter(|i| *i != 99)
                    .map(|i| i * 10)
                    .collect::<Vec<_>>()
            }) as BoxFuture<'static, Vec<u32>>
        }));
        let b = batcher.clone();
        let lone = tokio::spawn(async move { b.submit(1).await });
        while first.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let mut rest = Vec::new();
        for i in [2, 3, 4, 5, 99] {
            let b = batcher.clone();
            rest.push(tokio::spawn(async move { (i, b.submit(i).await) }));
            // Queued in this order.
            while batcher.inner.queue().len() < rest.len() {
                tokio::task::yield_now().await;
            }
        }
        gate.notify_one();
        assert_eq!(lone.await.unwrap(), Some(10));
        for r in rest {
            let (i, answer) = r.await.unwrap();
            assert_eq!(answer, (i != 99).then_some(i * 10), "{i}");
        }
        assert_eq!(
            *batches.lock().unwrap(),
            vec![vec![1], vec![2, 3, 4], vec![5, 99]]
        );
    }
}
