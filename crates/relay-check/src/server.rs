//! The server and the role: `wal_level`, and whether `current_user` may replicate.

use tokio_postgres::Client;

use crate::render::dq;
use crate::{checks, query_err, quote_ident, CheckError, Finding};

pub(crate) struct ServerInfo {
    pub(crate) version_num: i32,
    pub(crate) role: String,
    pub(crate) database: String,
    pub(crate) wal_level: String,
}

pub(crate) async fn server_info(client: &Client) -> Result<ServerInfo, CheckError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int4, current_user::text, \
                    current_database()::text, current_setting('wal_level')",
            &[],
        )
        .await
        .map_err(query_err("server"))?;
    Ok(ServerInfo {
        version_num: row.get(0),
        role: row.get(1),
        database: row.get(2),
        wal_level: row.get(3),
    })
}

pub(crate) fn check_wal_level(server: &ServerInfo) -> Finding {
    if server.wal_level == "logical" {
        Finding::pass(checks::WAL_LEVEL, "logical")
    } else {
        Finding::fail(
            checks::WAL_LEVEL,
            format!(
                "wal_level is {:?}, logical decoding needs \"logical\" (Amazon RDS/Aurora: set the \
                 parameter rds.logical_replication = 1 in the (cluster) parameter group and reboot; \
                 Azure flexible server: set the server parameter wal_level = logical and restart)",
                server.wal_level
            ),
            "ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL",
        )
    }
}

pub(crate) async fn check_replication_role(
    client: &Client,
    server: &ServerInfo,
) -> Result<Finding, CheckError> {
    // pg_has_role() is called with the OID of rds_replication only when that
    // role exists (the name form would raise an error on non-RDS servers).
    let row = client
        .query_one(
            "SELECT r.rolsuper, r.rolreplication, \
                    EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication'), \
                    COALESCE((SELECT pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER') \
                                FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication'), false) \
               FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(query_err(checks::REPLICATION_ROLE))?;
    let (superuser, replication, rds, rds_member): (bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let who = dq(&server.role);
    let who_sql = quote_ident(&server.role);
    Ok(if replication {
        Finding::pass(
            checks::REPLICATION_ROLE,
            format!("role {who} has REPLICATION"),
        )
    } else if superuser {
        Finding::pass(
            checks::REPLICATION_ROLE,
            format!("role {who} is a superuser (a dedicated role with REPLICATION is recommended)"),
        )
    } else if rds_member {
        Finding::pass(
            checks::REPLICATION_ROLE,
            format!("role {who} is a member of rds_replication"),
        )
    } else if rds {
        Finding::fail(
            checks::REPLICATION_ROLE,
            format!(
                "role {who} may not replicate: on Amazon RDS/Aurora it needs membership in \
                 rds_replication (the REPLICATION attribute cannot be granted there)"
            ),
            format!("GRANT rds_replication TO {who_sql};"),
        )
    } else {
        Finding::fail(
            checks::REPLICATION_ROLE,
            format!("role {who} may not replicate: it has neither REPLICATION nor superuser"),
            format!("ALTER ROLE {who_sql} WITH REPLICATION;"),
        )
    })
}
