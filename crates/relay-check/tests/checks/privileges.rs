//! Privileges: a role without REPLICATION, a missing table or SELECT privilege.

use relay_check::{checks, Target};

use crate::cluster::*;
use crate::support::*;

#[tokio::test]
async fn role_without_replication_fails_and_both_fixes_work() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    admin
        .batch_execute("ALTER ROLE outbox_relay NOREPLICATION")
        .await
        .unwrap();
    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::REPLICATION_ROLE]);
    let alter = fix(&findings, checks::REPLICATION_ROLE);
    assert_eq!(alter, "ALTER ROLE \"outbox_relay\" WITH REPLICATION;");
    admin.batch_execute(alter).await.unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);

    // Amazon RDS: the REPLICATION attribute is not grantable there, membership
    // in rds_replication is. Simulate the role's presence.
    admin
        .batch_execute(
            "ALTER ROLE outbox_relay NOREPLICATION; CREATE ROLE rds_replication NOLOGIN;",
        )
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::REPLICATION_ROLE]);
    let grant = fix(&findings, checks::REPLICATION_ROLE);
    assert_eq!(grant, "GRANT rds_replication TO \"outbox_relay\";");
    admin.batch_execute(grant).await.unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_all_ok(&findings);
    assert!(get(&findings, checks::REPLICATION_ROLE)
        .message
        .contains("member of rds_replication"));
}

#[tokio::test]
async fn missing_table_or_select_privilege_fails() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    let relay = pg.connect("outbox_relay", "portal").await;

    admin
        .batch_execute("REVOKE SELECT ON public.events FROM outbox_relay")
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::TABLE_PRIVILEGE]);
    let grant = fix(&findings, checks::TABLE_PRIVILEGE);
    assert_eq!(
        grant,
        "GRANT SELECT ON TABLE \"public\".\"events\" TO \"outbox_relay\";"
    );
    admin.batch_execute(grant).await.unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);

    // A table that is not there: one FAIL; neither its privilege nor its
    // publication coverage is reported on top.
    let elsewhere = Target {
        table: Some(("public".into(), "Outbox".into())),
        ..Target::default()
    };
    let findings = check(&relay, &elsewhere).await;
    assert_eq!(failed(&findings), [checks::TABLE]);
    assert!(get(&findings, checks::TABLE)
        .message
        .contains("\"public\".\"Outbox\" does not exist"));
    assert!(!names(&findings).contains(&checks::TABLE_PRIVILEGE));
    assert!(!names(&findings).contains(&checks::PUBLICATION_TABLE));

    // No table configured: table checks are skipped entirely.
    let no_table = Target {
        table: None,
        ..Target::default()
    };
    let findings = check(&relay, &no_table).await;
    assert_eq!(failed(&findings), Vec::<&str>::new());
    assert_eq!(names(&findings), &ALL_CHECKS[..8]);
    assert_eq!(ALL_CHECKS[7], checks::PUBLICATION);
}
