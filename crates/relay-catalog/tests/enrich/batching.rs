//! Lookups are batched: one query per entity kind per batch.

use crate::common::*;
use relay_catalog::{Catalog, Enricher, Tombstones};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_query_per_entity_kind_per_batch() {
    let db = start_with(
        relay_tempdb::ClusterOptions::default()
            .set("shared_preload_libraries", "pg_stat_statements"),
    )
    .await;
    let c = &db.client;
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .unwrap();
    // Ten consumers get access to D; ten products are created.
    let mut records = Vec::new();
    for i in 0..10 {
        let consumer = format!("11111111-2222-4000-8000-{i:012}");
        let product = format!("11111111-3333-4000-8000-{i:012}");
        c.batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, namespace) VALUES
               ('{consumer}', 'Consumer {i}', 'consumer-{i}'), ('{product}', 'Product {i}', 'product-{i}');
             INSERT INTO data_products(id) VALUES ('{consumer}'), ('{product}');
             INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
               ('99999999-2222-4000-8000-{i:012}', '{consumer}', '{D}', 'APPROVED');"
        ))
        .await
        .unwrap();
        records.push(rec(
            "data_product_dataset_link_approved",
            ("DATASET", D),
            Some(("DATA_PRODUCT", &consumer)),
        ));
        records.push(rec(
            "data_product_created",
            ("DATA_PRODUCT", &product),
            None,
        ));
    }
    c.batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
    let evs = Enricher::default()
        .enrich(&db.lookups, &records, &Tombstones::new())
        .await
        .unwrap();
    assert_eq!(evs.len(), 20);
    assert!(evs.iter().all(|e| e.enriched));
    for (i, ev) in evs.iter().enumerate() {
        envelope(ev);
        if i % 2 == 0 {
            assert_eq!(ev.subject, format!("99999999-2222-4000-8000-{:012}", i / 2));
            assert_eq!(
                at(&ev.data, "access.consumer.name"),
                format!("Consumer {}", i / 2).as_str()
            );
        } else {
            assert_eq!(
                at(&ev.data, "data_product.name"),
                format!("Product {}", i / 2).as_str()
            );
        }
    }
    let rows = c
        .query(
            "SELECT query, calls FROM pg_stat_statements
             WHERE query LIKE '%::text[]::uuid[]%' AND query NOT LIKE '%pg_stat_statements%'",
            &[],
        )
        .await
        .unwrap();
    let total: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
    for r in &rows {
        assert_eq!(
            r.get::<_, i64>(1),
            1,
            "ran more than once: {}",
            r.get::<_, String>(0)
        );
    }
    let named = Catalog::portal().queries().len() as i64;
    assert!(
        (5..=named).contains(&total),
        "{total} lookups for 20 events (at most {named}, one per entity kind)"
    );
}
