//! What runs beside the stream for operators: the start-up verification (`check`'s
//! essentials before streaming), the slot lag poller behind `outbox_relay_slot_lag_bytes`,
//! and the opt-in heartbeat.

use relay_check::checks;
use relay_source::QueryLimits;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::Relay;

/// Findings that must pass before streaming: without them no event could be read.
const ESSENTIAL: &[&str] = &[
    checks::WAL_LEVEL,
    checks::REPLICATION_ROLE,
    checks::SLOT,
    checks::SLOT_PLUGIN,
    checks::SLOT_DATABASE,
    checks::SLOT_VALID,
    checks::PUBLICATION,
    checks::PUBLICATION_TABLE,
    checks::TABLE,
];

/// How often the slot's lag is measured on the server.
const LAG_EVERY: Duration = Duration::from_secs(5);
/// The prefix of heartbeat messages (no capture profile takes it).
const HEARTBEAT_PREFIX: &str = "outbox-relay.heartbeat";

impl Relay {
    /// `check`'s essentials, before the first session: the slot exists in this database
    /// with pgoutput and is not invalidated, every publication exists and one covers the
    /// captured table. A problem is one line naming the fix, and the relay stops. An
    /// unreachable server is not a verdict: streaming retries.
    pub(super) async fn verify_before_streaming(
        &self,
        _shutdown: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let client = match self.conn.connect_query().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %super::error_chain(&e), "cannot verify the slot and publications before streaming; will retry while connecting");
                return Ok(());
            }
        };
        let findings = match relay_check::run(&client, &self.verify).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %super::error_chain(&e), "start-up verification could not run; streaming anyway");
                return Ok(());
            }
        };
        let mut failed = Vec::new();
        for f in findings.iter().filter(|f| !f.ok) {
            let fix = f.fix.as_deref().unwrap_or("see `outbox-relay check`");
            if ESSENTIAL.contains(&f.check) {
                tracing::error!(check = f.check, "{} — fix: {fix}", f.message);
                failed.push(format!("{}: {}", f.check, f.message));
            } else if f.check != checks::SLOT_ACTIVE {
                tracing::warn!(check = f.check, "{} — fix: {fix}", f.message);
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if findings
            .iter()
            .any(|f| !f.ok && f.check == checks::SLOT_VALID)
        {
            anyhow::bail!(
                "replication slot \"{}\" is invalidated: the server removed WAL it still needed, so events committed \
                 while the relay was behind may be lost. Recover: recreate the slot (sql/04_slot.sql), then re-deliver \
                 what was missed from the audit table itself (see README, \"Recovery\"); the relay never recreates a \
                 slot on its own",
                self.stream.slot
            );
        }
        anyhow::bail!(
            "cannot stream: {} (run `outbox-relay check` for every finding with its fix)",
            failed.join("; ")
        )
    }

    /// The slot lag poller and, when configured, the heartbeat: one ordinary
    /// connection, reopened when it breaks.
    pub(super) fn spawn_operator_tasks(&self, shutdown: watch::Receiver<bool>) {
        let conn = self.conn.clone();
        let slot = self.stream.slot.clone();
        let telemetry = self.telemetry();
        let heartbeat = self.heartbeat;
        tokio::spawn(async move {
            let mut client: Option<tokio_postgres::Client> = None;
            let mut last_beat = Instant::now();
            let mut warned = false;
            let every = heartbeat.map_or(LAG_EVERY, |h| h.min(LAG_EVERY));
            loop {
                if *shutdown.borrow() {
                    return;
                }
                tokio::time::sleep(every).await;
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    client = conn
                        .connect_query_limited(&QueryLimits::default())
                        .await
                        .ok();
                }
                let Some(c) = client.as_ref() else { continue };
                let lag = c
                    .query_opt(
                        "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint \
                         FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                        &[&slot],
                    )
                    .await;
                if let Ok(Some(row)) = lag {
                    if let Ok(Some(bytes)) = row.try_get::<_, Option<i64>>(0) {
                        telemetry.set_server_lag(bytes);
                    }
                }
                if let Some(h) = heartbeat {
                    if last_beat.elapsed() >= h {
                        last_beat = Instant::now();
                        let beat = c
                            .execute(
                                "SELECT pg_logical_emit_message(false, $1, '')",
                                &[&HEARTBEAT_PREFIX],
                            )
                            .await;
                        if let Err(e) = beat {
                            if !warned {
                                warned = true;
                                tracing::warn!(
                                    error = %e,
                                    "heartbeat failed: the relay's role needs \
                                     GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO outbox_relay (sql/01_role.sql)"
                                );
                            }
                        }
                    }
                }
            }
        });
    }
}
