//! Group commit: one thread owns all event writes. Requests queue their batches; the thread takes
//! every batch waiting (up to a bound), writes them in one transaction, commits, and only then
//! answers each request. One commit (one fsync) then covers many requests, and a request is
//! answered 202 only once its events are durable.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use relay_core::EventBatch;
use relay_store::{IngestOutcome, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// At most this many events go into one transaction; more wait for the next.
const MAX_GROUP_EVENTS: usize = 5_000;
/// Batches waiting beyond this make new requests wait (backpressure) instead of growing memory.
const QUEUE_DEPTH: usize = 4_096;

struct Job {
    batch: EventBatch,
    reply: oneshot::Sender<Result<IngestOutcome, StoreError>>,
}

/// The handle requests use. When every handle is dropped, the writer finishes what is queued
/// and stops.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread; the returned join handle ends once every [`Writer`] is dropped
    /// and the queue is flushed.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("relay-writer".to_owned())
            .spawn(move || run(store, metrics, queue))?;
        Ok((Self { jobs }, thread))
    }

    /// Queues a batch and waits until it is committed (or failed).
    pub(crate) async fn write(&self, batch: EventBatch) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { batch, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".to_owned()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the writer stopped before answering".to_owned())
        })?
    }
}

fn run(store: Arc<dyn Store>, metrics: Arc<Metrics>, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        let mut events = group[0].batch.events.len();
        while events < MAX_GROUP_EVENTS {
            match queue.try_recv() {
                Ok(job) => {
                    events += job.batch.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        // A request that gave up waiting (timed out, cut at shutdown) was not acknowledged and
        // will be sent again: writing it now could count events without ids twice.
        group.retain(|job| !job.reply.is_closed());
        let events = group.iter().map(|job| job.batch.events.len()).sum();
        if !group.is_empty() {
            commit(&*store, &metrics, group, events);
        }
    }
    tracing::debug!("writer flushed and stopped");
}

fn commit(store: &dyn Store, metrics: &Metrics, group: Vec<Job>, events: usize) {
    let (batches, replies): (Vec<EventBatch>, Vec<_>) =
        group.into_iter().map(|job| (job.batch, job.reply)).unzip();
    let started = Instant::now();
    let result = store.record_events(&batches);
    metrics
        .writer_commit_seconds
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(outcomes) => {
            metrics.writer_batch_events.observe(events as f64);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                count(metrics, &outcome);
                let _ = reply.send(Ok(outcome));
            }
        }
        // One bad batch must not fail the others that shared its transaction: retry each alone.
        // (When the database is down, there is nothing to isolate.)
        Err(err) if batches.len() > 1 && !matches!(err, StoreError::Unavailable(_)) => {
            tracing::warn!(
                "a group of {} batches failed ({err}); writing them one by one",
                batches.len()
            );
            for (batch, reply) in batches.into_iter().zip(replies) {
                let single = store
                    .record_events(std::slice::from_ref(&batch))
                    .map(|mut outcomes| outcomes.remove(0));
                if let Ok(outcome) = &single {
                    metrics
                        .writer_batch_events
                        .observe(batch.events.len() as f64);
                    count(metrics, outcome);
                }
                let _ = reply.send(single);
            }
        }
        Err(err) => {
            tracing::error!("writing {events} events failed: {err}");
            for reply in replies {
                let _ = reply.send(Err(clone_error(&err)));
            }
        }
    }
}

fn count(metrics: &Metrics, outcome: &IngestOutcome) {
    metrics
        .events_accepted
        .fetch_add(outcome.accepted as u64, Ordering::Relaxed);
    metrics
        .events_duplicate
        .fetch_add(outcome.duplicates as u64, Ordering::Relaxed);
    metrics
        .events_rejected
        .fetch_add(outcome.rejected.len() as u64, Ordering::Relaxed);
}

/// Store errors carry their text only; every waiting request gets its own copy.
fn clone_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Unavailable(text) => StoreError::Unavailable(text.clone()),
        other => StoreError::Database(other.to_string()),
    }
}
