//! The enrich stage's worker: one batch of records → events, off the pipeline's loop.
//!
//! ```text
//! pipeline loop ── flush() ──► Batch (records + the tombstones they can need, copied)
//!                                 │  polled by the pipeline, several at once
//!                                 ▼
//!              LookupConn (one shared connection, pipelined queries, reconnect)
//!                                 │  Enricher::enrich: batched lookups + builders
//!                                 ▼
//!                         Flushed (events per unit, in WAL order) ──► pipeline
//! ```
//!
//! A lookup that fails for a retryable reason (connection, statement or lock timeout,
//! shutdown) is retried a few times with the configured backoff on a fresh connection;
//! then the batch fails as retryable and the run ends (the slot replays). A query that
//! cannot work (missing table or column, no privilege) and a connection the server
//! refuses for good (authentication, pg_hba) fail as fatal, naming the fix.

use futures::future::BoxFuture;
use relay_contracts::{
    pg_micros_to_rfc3339, Classify, EnrichFailure, ErrorClass, Flushed, OutboundEvent, TxContext,
    UnitId,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

use super::EnrichConfig;
use crate::{AuditRecord, BusinessEvent, Enricher, EnvelopeContext, LookupClient, Tombstones};

/// Why the lookup connection could not be opened: its class (authentication and
/// pg_hba refusals are fatal, unreachable servers retryable) and one line for operators.
#[derive(Debug, Clone)]
pub struct ConnectFailure {
    pub class: ErrorClass,
    pub message: String,
}

/// Opens a lookup connection (the binary supplies one with the source's settings and
/// the lookup timeouts).
pub type Connector = Arc<
    dyn Fn() -> BoxFuture<'static, Result<tokio_postgres::Client, ConnectFailure>> + Send + Sync,
>;

/// Quick in-place attempts before a lookup failure ends the run (which releases the
/// replication connection, so a shutting-down server is not held up by it).
const QUICK_ATTEMPTS: u32 = 3;

/// The lookup connections, each opened on first use and again after a failure; a batch
/// takes the next one round-robin, so batches in flight query side by side.
pub(super) struct LookupConn {
    connector: Connector,
    clients: Vec<Mutex<Option<Arc<LookupClient>>>>,
    next: AtomicUsize,
}

impl LookupConn {
    pub(super) fn new(connector: Connector, connections: usize) -> Self {
        Self {
            connector,
            clients: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    async fn client(&self) -> Result<Arc<LookupClient>, ConnectFailure> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        let mut guard = self.clients[slot].lock().await;
        if let Some(c) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(c));
        }
        let client = Arc::new(LookupClient::new((self.connector)().await?));
        *guard = Some(Arc::clone(&client));
        Ok(client)
    }

    async fn drop_client(&self, failed: &Arc<LookupClient>) {
        for slot in &self.clients {
            let mut guard = slot.lock().await;
            if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
                *guard = None;
            }
        }
    }
}

/// One record of a batch: what to enrich, where its events go, and the transaction its
/// envelope names (the audit row's, or for derived events the one that caused them).
pub(super) struct Item {
    pub record: AuditRecord,
    pub unit: UnitId,
    pub envelope: TxContext,
}

/// A batch, taken off the session: everything the worker needs, owned.
pub(super) struct Batch {
    pub items: Vec<Item>,
    pub tombstones: Tombstones,
    pub releases: Vec<(UnitId, UnitId)>,
    pub record_units: Vec<UnitId>,
}

fn query_failure(query: &str, message: &str) -> EnrichFailure {
    EnrichFailure {
        class: ErrorClass::Fatal,
        message: format!(
            "enrichment lookup `{query}` failed: {message} (check the portal schema and the SELECT grants of sql/03_enrichment.sql; `outbox-relay check` names what is missing)"
        ),
    }
}

/// Enrich one batch: the lookups (retried a few times), the builders, the envelopes.
pub(super) async fn run(
    batch: Batch,
    conn: Arc<LookupConn>,
    cfg: Arc<EnrichConfig>,
) -> Result<Flushed, EnrichFailure> {
    let Batch {
        items,
        tombstones,
        releases,
        record_units,
    } = batch;
    if items.is_empty() {
        return Ok(Flushed {
            events: Vec::new(),
            releases,
            record_units,
        });
    }
    let records: Vec<AuditRecord> = items.iter().map(|i| i.record.clone()).collect();
    let started = std::time::Instant::now();
    let business = lookup_with_retry(&records, &tombstones, &conn, &cfg).await?;
    cfg.observer.lookup(started.elapsed(), records.len());
    if business.len() != items.len() {
        return Err(query_failure(
            "enrich",
            &format!(
                "the catalog returned {} events for {} records",
                business.len(),
                items.len()
            ),
        ));
    }
    let enriched_at = relay_contracts::now_rfc3339();
    let events = business
        .into_iter()
        .zip(&items)
        .map(|(ev, item)| {
            (
                item.unit,
                outbound(ev, &item.envelope, &cfg.source, &enriched_at),
            )
        })
        .collect();
    Ok(Flushed {
        events,
        releases,
        record_units,
    })
}

async fn lookup_with_retry(
    records: &[AuditRecord],
    tombstones: &Tombstones,
    conn: &LookupConn,
    cfg: &EnrichConfig,
) -> Result<Vec<BusinessEvent>, EnrichFailure> {
    let enricher = Enricher::default();
    let mut retry = cfg.retry.retry();
    loop {
        let failure = match conn.client().await {
            Err(f) if f.class == ErrorClass::Fatal => {
                return Err(EnrichFailure {
                    class: ErrorClass::Fatal,
                    message: format!("cannot open the lookup connection: {}", f.message),
                })
            }
            Err(f) => format!("cannot open the lookup connection: {}", f.message),
            Ok(client) => match enricher.enrich(&client, records, tombstones).await {
                Ok(events) => return Ok(events),
                Err(e) if e.is_retryable() => {
                    conn.drop_client(&client).await;
                    e.to_string()
                }
                Err(e) => return Err(query_failure(e.query(), &e.to_string())),
            },
        };
        if retry.attempts() + 1 >= QUICK_ATTEMPTS {
            return Err(EnrichFailure {
                class: ErrorClass::Retry,
                message: format!("enrichment lookups unavailable: {failure}"),
            });
        }
        let delay = retry.next_delay();
        tracing::warn!(error = %failure, retry_in = ?delay, "enrichment lookup failed; retrying (the confirmed LSN waits)");
        tokio::time::sleep(delay).await;
    }
}

fn outbound(ev: BusinessEvent, tx: &TxContext, source: &str, enriched_at: &str) -> OutboundEvent {
    let time = if tx.commit_time_micros == 0 {
        relay_contracts::now_rfc3339()
    } else {
        pg_micros_to_rfc3339(tx.commit_time_micros)
    };
    let body = ev.encode_cloudevent(&EnvelopeContext {
        source,
        time: &time,
        commit_lsn: tx.commit_lsn,
        enriched_at,
    });
    OutboundEvent {
        body: body.into(),
        id: ev.id,
        aggregate: ev.subject,
        kind: ev.event_type,
        route: ev.route,
        commit_lsn: tx.commit_lsn,
    }
}
