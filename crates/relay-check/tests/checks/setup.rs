//! The DBA scripts (all checks pass, run twice), wal_level, and the publication.

use relay_check::{checks, render, Target};

use crate::cluster::*;
use crate::support::*;

#[tokio::test]
async fn all_ok_after_the_dba_scripts_run_twice() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    // Idempotent: a second run changes nothing and fails nowhere.
    for script in [ROLE_SQL, PUBLICATION_SQL, SLOT_SQL] {
        admin.batch_execute(script).await.unwrap();
    }
    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_all_ok(&findings);
    assert_eq!(get(&findings, checks::WAL_LEVEL).message, "logical");
    let text = render(&findings);
    assert_eq!(text.lines().count(), ALL_CHECKS.len());
    assert!(text.lines().all(|l| l.starts_with("ok   ")), "{text}");
    assert!(text.contains("ok   wal_level: logical\n"), "{text}");

    // The publication is insert-only: the portal's UPDATEs of old audit rows
    // (filling deleted_*_identifier) are not streamed.
    admin
        .batch_execute(
            "INSERT INTO users VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com');
             INSERT INTO events (id, name, subject_type, actor_id)
                  VALUES (gen_random_uuid(), 'data_product_created', 'DATA_PRODUCT',
                          '00000000-0000-0000-0000-000000000001');
             UPDATE events SET deleted_subject_identifier = 'gone';",
        )
        .await
        .unwrap();
    let rows = admin
        .query(
            "SELECT chr(get_byte(data, 0)) FROM pg_logical_slot_peek_binary_changes(
                 'outbox_relay', NULL, NULL, 'proto_version', '1', 'publication_names', 'outbox_relay')",
            &[],
        )
        .await
        .unwrap();
    let kinds: String = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    assert_eq!(
        kinds, "BRIC",
        "Begin, Relation, Insert, Commit and no Update"
    );

    // Our quoting means to the server exactly what was quoted, for every keyword and
    // some odd names: a literal reads back as itself, an identifier names a column so.
    let words = admin
        .query("SELECT word FROM pg_get_keywords()", &[])
        .await
        .unwrap();
    let mut samples: Vec<String> = words.iter().map(|r| r.get(0)).collect();
    samples.extend(
        [
            "events",
            "Events",
            "a b",
            "9a",
            "_a9",
            "x\"y",
            "it's",
            "back\\slash",
            "é",
        ]
        .map(String::from),
    );
    for s in &samples {
        let sql = format!(
            "SELECT {} AS {}",
            relay_check::quote_literal(s),
            relay_check::quote_ident(s)
        );
        let row = admin.query_one(sql.as_str(), &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), *s, "literal {s:?}");
        assert_eq!(row.columns()[0].name(), s, "ident {s:?}");
    }
    assert_eq!(relay_check::quote_literal(""), "''");
}

#[tokio::test]
async fn wal_level_replica_fails_and_alter_system_fixes_it() {
    // No wal_level on the command line: PostgreSQL 15's default is replica,
    // and a -c option would override ALTER SYSTEM after the restart.
    let pg = Cluster::start(&[]);
    // The slot cannot be created with wal_level = replica.
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL]).await;
    let err = admin.batch_execute(SLOT_SQL).await.unwrap_err();
    assert!(
        err.as_db_error()
            .is_some_and(|e| e.message().contains("wal_level")),
        "{err:?}"
    );

    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::WAL_LEVEL, checks::SLOT]);
    let wal = get(&findings, checks::WAL_LEVEL);
    assert!(wal.message.contains("\"replica\""), "{wal:?}");
    assert!(wal.message.contains("rds.logical_replication"), "{wal:?}");
    let wal_fix = fix(&findings, checks::WAL_LEVEL).to_owned();
    assert!(wal_fix.starts_with("ALTER SYSTEM SET wal_level = logical;"));
    let slot_fix = fix(&findings, checks::SLOT).to_owned();
    drop((admin, relay));

    // Apply the fixes: ALTER SYSTEM (as superuser) + restart, then the slot.
    pg.connect("postgres", "portal")
        .await
        .batch_execute(&wal_fix)
        .await
        .unwrap();
    pg.restart();
    let relay = pg.connect("outbox_relay", "portal").await;
    relay.batch_execute(&slot_fix).await.unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn missing_publication_and_publication_without_table_or_inserts() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL]).await;
    admin.batch_execute(SLOT_SQL).await.unwrap();
    let relay = pg.connect("outbox_relay", "portal").await;
    let target = Target::default();

    // 1. Missing: one FAIL, and no coverage finding on top of it.
    let findings = check(&relay, &target).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION]);
    assert!(!names(&findings).contains(&checks::PUBLICATION_TABLE));
    let create = fix(&findings, checks::PUBLICATION);
    assert_eq!(
        create,
        "CREATE PUBLICATION \"outbox_relay\" FOR TABLE \"public\".\"events\" WITH (publish = 'insert');"
    );
    admin.batch_execute(create).await.unwrap(); // as the table's owner
    assert_all_ok(&check(&relay, &target).await);

    // 2. Exists but does not include the table.
    admin
        .batch_execute("ALTER PUBLICATION outbox_relay DROP TABLE public.events")
        .await
        .unwrap();
    let findings = check(&relay, &target).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION_TABLE]);
    let add = fix(&findings, checks::PUBLICATION_TABLE);
    assert_eq!(
        add,
        "ALTER PUBLICATION \"outbox_relay\" ADD TABLE \"public\".\"events\";"
    );
    admin.batch_execute(add).await.unwrap();
    assert_all_ok(&check(&relay, &target).await);

    // 3. Includes the table but does not publish inserts.
    admin
        .batch_execute("ALTER PUBLICATION outbox_relay SET (publish = 'update, delete')")
        .await
        .unwrap();
    let findings = check(&relay, &target).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION_TABLE]);
    admin
        .batch_execute(fix(&findings, checks::PUBLICATION_TABLE))
        .await
        .unwrap();
    assert_all_ok(&check(&relay, &target).await);

    // 4. Several publications: one missing fails on its own; the table is
    //    still covered by the other.
    let two = Target {
        publications: vec!["outbox_relay".into(), "Extra Pub".into()],
        ..Target::default()
    };
    let findings = check(&relay, &two).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION]);
    let create = fix(&findings, checks::PUBLICATION);
    assert!(create.starts_with("CREATE PUBLICATION \"Extra Pub\" FOR TABLE"));
    admin.batch_execute(create).await.unwrap();
    let findings = check(&relay, &two).await;
    assert_eq!(
        failed(&findings),
        Vec::<&str>::new(),
        "{}",
        render(&findings)
    );
}
