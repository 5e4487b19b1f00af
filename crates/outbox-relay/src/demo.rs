//! `outbox-relay demo`: a throwaway PostgreSQL, the DBA scripts from `sql/`, a relay
//! streaming to stdout, and a few portal actions committed the way the portal commits
//! them. Shows the whole pipeline on a machine with nothing but PostgreSQL's binaries.

use anyhow::Context;
use relay_contracts::Sink;
use relay_sinks::StdoutSink;
use relay_tempdb::{Cluster, ClusterOptions, PgBinaries};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::config::Config;
use crate::relay::Relay;

/// The portal-like schema the demo and the tests create.
pub const PORTAL_SCHEMA: &str = include_str!("portal_schema.sql");
/// The DBA scripts, exactly as shipped in `sql/`.
pub const SQL_ROLE: &str = include_str!("../../../sql/01_role.sql");
pub const SQL_PUBLICATION: &str = include_str!("../../../sql/02_publication.sql");
pub const SQL_SLOT: &str = include_str!("../../../sql/04_slot.sql");
pub const SQL_ENRICHMENT: &str = include_str!("../../../sql/03_enrichment.sql");
/// The publications a portal relay with enrichment reads.
pub const PORTAL_PUBLICATIONS: &str =
    r#"["outbox_relay", "outbox_relay_deletes", "outbox_relay_expiry"]"#;

const DEMO_PASSWORD: &str = "demo-relay-password";

pub async fn run(once: bool) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let interrupted = tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    });
    eprintln!("demo: starting a throwaway PostgreSQL (wal_level=logical) …");
    let bin = PgBinaries::find()?;
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(&bin, ClusterOptions::default()))
            .await??;
    let result = demo_with(&cluster, once, stop_rx).await;
    interrupted.abort();
    eprintln!(
        "demo: stopping PostgreSQL and removing {}",
        cluster.root().display()
    );
    drop(cluster);
    result
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn demo_with(
    cluster: &Cluster,
    once: bool,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let admin = connect(&cluster.url("postgres")).await?;
    admin.batch_execute("CREATE DATABASE portal").await?;
    let db = connect(&cluster.url("portal")).await?;
    db.batch_execute(PORTAL_SCHEMA)
        .await
        .context("creating the portal schema")?;
    eprintln!("demo: running the DBA scripts sql/01_role.sql … 04_slot.sql");
    db.batch_execute(SQL_ROLE)
        .await
        .context("sql/01_role.sql")?;
    db.batch_execute(&format!(
        "ALTER ROLE outbox_relay PASSWORD '{DEMO_PASSWORD}'"
    ))
    .await?;
    db.batch_execute(SQL_PUBLICATION)
        .await
        .context("sql/02_publication.sql")?;
    db.batch_execute(SQL_ENRICHMENT)
        .await
        .context("sql/03_enrichment.sql")?;
    db.batch_execute(SQL_SLOT)
        .await
        .context("sql/04_slot.sql")?;

    let url = format!(
        "postgres://outbox_relay:{DEMO_PASSWORD}@127.0.0.1:{}/portal",
        cluster.port()
    );
    let cfg = Config::parse(
        &format!(
            "[source]\nurl = \"{url}\"\npublication = {PORTAL_PUBLICATIONS}\nstatus_interval = \"500ms\"\n\n[capture]\ndelete_hold = \"5s\"\n\n[[sinks]]\nname = \"console\"\ntype = \"stdout\"\n"
        ),
        "demo",
        &|_| None,
    )?;
    let sinks: Vec<Arc<dyn Sink>> = vec![Arc::new(StdoutSink::new("console"))];
    let relay = Arc::new(Relay::with_sinks(&cfg, sinks)?);
    let metrics = relay.metrics();
    let (relay_stop_tx, relay_stop_rx) = watch::channel(false);
    let runner = {
        let relay = Arc::clone(&relay);
        tokio::spawn(async move { relay.run(relay_stop_rx).await })
    };

    eprintln!("demo: relay streaming slot \"outbox_relay\"; performing portal actions …\n");
    let actions = portal_actions(&db, &metrics).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metrics.events_acked.load(Ordering::Relaxed) < actions
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let row = db
        .query_one(
            "SELECT confirmed_flush_lsn::text, pg_current_wal_lsn()::text FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
            &[],
        )
        .await?;
    let (confirmed, current): (String, String) = (row.get(0), row.get(1));
    eprintln!(
        "\ndemo: {} events delivered for {actions} audit rows (derived events included); slot confirmed_flush_lsn = {confirmed} (server WAL at {current})",
        metrics.events_acked.load(Ordering::Relaxed)
    );
    if !once {
        eprintln!(
            "demo: still running. Try:\n  psql \"{}\" -c \"INSERT INTO events (id, name, subject_type, subject_id, actor_id) \
             VALUES (gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), \
             (SELECT id FROM users LIMIT 1))\"\nPress Ctrl-C to stop and clean up.",
            cluster.url("portal")
        );
        let _ = stop.wait_for(|s| *s).await;
    }
    let _ = relay_stop_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(15), runner).await {
        Ok(joined) => joined??,
        Err(_) => eprintln!("demo: the relay did not stop in time"),
    }
    anyhow::ensure!(
        metrics.events_acked.load(Ordering::Relaxed) >= actions,
        "only {} of {actions} events were delivered",
        metrics.events_acked.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Portal actions the way the portal commits them; returns the number of audit rows.
async fn portal_actions(
    db: &tokio_postgres::Client,
    metrics: &relay_pipeline::Metrics,
) -> anyhow::Result<u64> {
    // Each element commits on its own, the way the portal commits them.
    let steps: &[&str] = &[
        r"INSERT INTO users(id, email, first_name, last_name) VALUES
    ('11111111-1111-4111-8111-111111111111', 'ada@example.com', 'Ada', 'Lovelace');",
        r"INSERT INTO domains(id, name) VALUES ('22222222-2222-4222-8222-222222222222', 'Finance');",
        r"-- 1. a data product is created: domain change first, audit row in a later transaction
INSERT INTO abstract_data_products(id, name, namespace, domain_id) VALUES
    ('33333333-3333-4333-8333-333333333333', 'Revenue', 'revenue', '22222222-2222-4222-8222-222222222222');
INSERT INTO data_products(id, about) VALUES ('33333333-3333-4333-8333-333333333333', 'Revenue per day');",
        r"INSERT INTO events(id, name, subject_type, subject_id, actor_id) VALUES
    (gen_random_uuid(), 'data_product_created', 'DATA_PRODUCT', '33333333-3333-4333-8333-333333333333',
     '11111111-1111-4111-8111-111111111111');",
        r"-- 2. an output port of it
INSERT INTO datasets(id, namespace, name, data_product_id) VALUES
    ('44444444-4444-4444-8444-444444444444', 'revenue-daily', 'Revenue daily', '33333333-3333-4333-8333-333333333333');",
        r"INSERT INTO events(id, name, subject_type, subject_id, actor_id) VALUES
    (gen_random_uuid(), 'dataset_created', 'DATASET', '44444444-4444-4444-8444-444444444444',
     '11111111-1111-4111-8111-111111111111');",
        r"-- 3. another product requests access, and the producer approves it in one transaction
INSERT INTO abstract_data_products(id, name, namespace) VALUES
    ('55555555-5555-4555-8555-555555555555', 'Forecast', 'forecast');
INSERT INTO data_products(id) VALUES ('55555555-5555-4555-8555-555555555555');",
        r"INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id) VALUES
    (gen_random_uuid(), 'data_product_dataset_link_requested', 'DATA_PRODUCT', '55555555-5555-4555-8555-555555555555',
     'DATASET', '44444444-4444-4444-8444-444444444444', '11111111-1111-4111-8111-111111111111');",
        r"BEGIN;
INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
    ('66666666-6666-4666-8666-666666666666', '55555555-5555-4555-8555-555555555555',
     '44444444-4444-4444-8444-444444444444', 'APPROVED');
INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id) VALUES
    (gen_random_uuid(), 'data_product_dataset_link_approved', 'DATASET', '44444444-4444-4444-8444-444444444444',
     'DATA_PRODUCT', '55555555-5555-4555-8555-555555555555', '11111111-1111-4111-8111-111111111111');
COMMIT;",
        r"-- 4. the consumer product is removed: old audit rows get deleted_subject_identifier
--    (UPDATEs, not events), then the removal event commits
BEGIN;
DELETE FROM abstract_data_products WHERE id = '55555555-5555-4555-8555-555555555555';
UPDATE events SET deleted_subject_identifier = 'Forecast'
    WHERE subject_id = '55555555-5555-4555-8555-555555555555';
COMMIT;",
        r"INSERT INTO events(id, name, subject_type, subject_id, deleted_subject_identifier, actor_id) VALUES
    (gen_random_uuid(), 'data_product_removed', 'DATA_PRODUCT', '55555555-5555-4555-8555-555555555555',
     'Forecast', '11111111-1111-4111-8111-111111111111');",
    ];
    for step in steps {
        if step.contains("DELETE FROM abstract_data_products") {
            // Let the relay enrich the first events while the entities still exist.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            while metrics.events_acked.load(Ordering::Relaxed) < 4
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        db.batch_execute(step)
            .await
            .context("performing portal actions")?;
    }
    Ok(5)
}

#[cfg(test)]
mod tests {
    use relay_catalog::Catalog;

    /// sql/03_enrichment.sql names every table the catalog captures deletes of and reads.
    #[test]
    fn enrichment_sql_matches_the_catalog() {
        let catalog = Catalog::portal();
        for t in catalog
            .tables_to_capture_deletes()
            .iter()
            .chain(catalog.tables_read())
        {
            assert!(
                super::SQL_ENRICHMENT.contains(&format!("'{t}'")),
                "sql/03_enrichment.sql does not name `{t}`"
            );
        }
    }
}
