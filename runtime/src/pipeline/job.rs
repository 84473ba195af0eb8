//! The per-call delivery job: a request's record held, from the moment the request begins, in the pooled box the
//! worker will run it in, and what running it means (building the record's payloads).

use std::sync::Arc;

use super::build::{PipelineSettings, process};
use super::record::RequestRecord;
use crate::delivery::ReusableJob;
use crate::event::Payload;
use crate::recycle::Pool;

/// The per-call delivery job: one record and the settings to process it with, in a box that returns to
/// [`RECORD_JOBS`] once the worker has run it, so that the box the request thread filled is not freed on the
/// worker.
pub(crate) struct RecordJob {
    record: Option<RequestRecord>,
    settings: Option<Arc<PipelineSettings>>,
}

/// At most this many spare job boxes: room for the jobs the worker runs in one go at tens of thousands of calls
/// per second (it takes arriving jobs every 20 ms), about half a megabyte.
const SPARE_JOBS: usize = 1024;

/// Spare job boxes, [`SPARE_JOBS`] at most.
static RECORD_JOBS: Pool<Box<RecordJob>> = Pool::new(
    SPARE_JOBS * (std::mem::size_of::<RecordJob>() + std::mem::size_of::<Box<RecordJob>>()),
    |_| std::mem::size_of::<RecordJob>(),
);

/// A request's record, held from the start in the box the worker will run it in (taken from the bounded pool of
/// spare job boxes). The request path's scope, and with it the wrapped handler's future that rmcp boxes and moves,
/// holds one pointer instead of the record; submitting it moves nothing. A record never submitted (a dropped
/// future) frees its box.
pub(crate) struct PooledRecord(Box<RecordJob>);

impl PooledRecord {
    /// `record`, in a spare box when the pool has one.
    pub(crate) fn new(record: RequestRecord) -> Self {
        let mut job = RECORD_JOBS.take().unwrap_or_else(|| {
            Box::new(RecordJob {
                record: None,
                settings: None,
            })
        });
        job.record = Some(record);
        Self(job)
    }

    /// The job that builds this record's payloads with `settings`.
    pub(crate) fn into_job(self, settings: Arc<PipelineSettings>) -> Box<RecordJob> {
        let mut job = self.0;
        job.settings = Some(settings);
        job
    }
}

impl std::ops::Deref for PooledRecord {
    type Target = RequestRecord;
    fn deref(&self) -> &RequestRecord {
        self.0
            .record
            .as_ref()
            .expect("a pooled record holds its record until submitted")
    }
}

impl std::ops::DerefMut for PooledRecord {
    fn deref_mut(&mut self) -> &mut RequestRecord {
        self.0
            .record
            .as_mut()
            .expect("a pooled record holds its record until submitted")
    }
}

impl ReusableJob for RecordJob {
    fn run(&mut self) -> Vec<Payload> {
        match (self.record.take(), self.settings.take()) {
            (Some(record), Some(settings)) => process(record, &settings),
            _ => Vec::new(),
        }
    }

    fn recycle(mut self: Box<Self>) {
        self.record = None;
        self.settings = None;
        // A box the pool refuses (full or busy) is freed here.
        drop(RECORD_JOBS.keep(self));
    }
}
