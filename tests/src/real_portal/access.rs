//! Access of a data product or exploration to an output port (input ports): requests,
//! decisions, revocation, cancellation, removal and renewal.

use super::*;

impl Portal {
    // ---- access (input ports) ----------------------------------------------------------

    async fn access_tx(&mut self, sql: String, name: &str, link: &str, side: Side) -> String {
        let (consumer, port) = self.access[link].clone();
        let (subject, target) = match side {
            Side::Consumer => ((DP, consumer.as_str()), (DS, port.as_str())),
            Side::Producer => ((DS, port.as_str()), (DP, consumer.as_str())),
        };
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        let id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, $2, $3, $4::text::uuid, $5, $6::text::uuid, $7::text::uuid)",
            &[&id, &name, &subject.0, &subject.1, &target.0, &target.1, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: id.clone(),
            name: name.into(),
            subject: link.into(),
        });
        id
    }

    fn request_row(&self, link: &str, decision: &str) -> String {
        format!(
            "INSERT INTO input_port_requests(id, input_port_id, decision, justification, access_duration_type,
                requested_duration_days, requested_by_id, decided_by_id, decided_on, valid_from)
             VALUES ('{}', '{link}', '{decision}', 'Needed for the monthly report', 'PERMANENT', NULL, '{actor}',
                {decided}, {decided_on}, {valid_from});",
            new_id(),
            actor = self.actor,
            decided = if decision == "PENDING" { "NULL".to_string() } else { format!("'{}'", self.actor) },
            decided_on = if decision == "PENDING" { "NULL" } else { "timezone('utc', now())" },
            valid_from = if decision == "PENDING" { "NULL" } else { "current_date" },
        )
    }

    /// Request access from `consumer` (a data product or an exploration) to `port`: the
    /// link, its request and the audit row in one transaction (`DATA_PRODUCT → DATASET`).
    pub async fn request_access(&mut self, consumer: &str, port: &str) -> String {
        self.new_access(
            consumer,
            port,
            "PENDING",
            "data_product_dataset_link_requested",
        )
        .await
    }

    /// Request access to an output port open to everyone: approved at once, written as
    /// `data_product_dataset_link_approved` from the consumer side.
    pub async fn request_open_access(&mut self, consumer: &str, port: &str) -> String {
        self.new_access(
            consumer,
            port,
            "APPROVED",
            "data_product_dataset_link_approved",
        )
        .await
    }

    async fn new_access(&mut self, consumer: &str, port: &str, status: &str, name: &str) -> String {
        let link = new_id();
        self.access
            .insert(link.clone(), (consumer.to_string(), port.to_string()));
        let sql = format!(
            "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status)
                VALUES ('{link}', '{consumer}', '{port}', '{status}');
             {}",
            self.request_row(&link, status)
        );
        self.access_tx(sql, name, &link, Side::Consumer).await;
        link
    }

    /// Renew access: a new request on the SAME link id, audited `…_requested` again
    /// (`open`: approved at once, audited `…_approved` from the consumer side).
    pub async fn renew_access(&mut self, link: &str, open: bool) -> String {
        let (decision, name) = if open {
            ("APPROVED", "data_product_dataset_link_approved")
        } else {
            ("PENDING", "data_product_dataset_link_requested")
        };
        let sql = format!(
            "UPDATE input_ports SET updated_on = timezone('utc', now()) WHERE id = '{link}';
             {}",
            self.request_row(link, decision)
        );
        self.access_tx(sql, name, link, Side::Consumer).await
    }

    fn decide_sql(link: &str, status: &str, decision: &str, extra: &str) -> String {
        format!(
            "UPDATE input_ports SET status = '{status}', updated_on = timezone('utc', now()) WHERE id = '{link}';
             UPDATE input_port_requests SET decision = '{decision}', decided_on = timezone('utc', now()){extra}
              WHERE id = (SELECT id FROM input_port_requests WHERE input_port_id = '{link}'
                          ORDER BY created_on DESC, id LIMIT 1);"
        )
    }

    /// The output port's owners approve the pending request (`DATASET → DATA_PRODUCT`).
    pub async fn approve_access(&mut self, link: &str) -> String {
        let sql = Self::decide_sql(
            link,
            "APPROVED",
            "APPROVED",
            &format!(
                ", decided_by_id = '{}', valid_from = current_date",
                self.actor
            ),
        );
        self.access_tx(
            sql,
            "data_product_dataset_link_approved",
            link,
            Side::Producer,
        )
        .await
    }

    pub async fn deny_access(&mut self, link: &str) -> String {
        let sql = Self::decide_sql(
            link,
            "DENIED",
            "DENIED",
            &format!(
                ", decided_by_id = '{}', decision_note = 'Not for this use'",
                self.actor
            ),
        );
        self.access_tx(
            sql,
            "data_product_dataset_link_denied",
            link,
            Side::Producer,
        )
        .await
    }

    pub async fn revoke_access(&mut self, link: &str, side: Side) -> String {
        let sql = Self::decide_sql(
            link,
            "REVOKED",
            "APPROVED",
            &format!(
                ", revoked_at = timezone('utc', now()), revoked_by_id = '{}'",
                self.actor
            ),
        );
        self.access_tx(sql, "data_product_dataset_link_revoked", link, side)
            .await
    }

    /// The consumer withdraws its pending request (`DATA_PRODUCT → DATASET`).
    pub async fn cancel_access(&mut self, link: &str) -> String {
        let sql = Self::decide_sql(link, "CANCELLED", "CANCELLED", "");
        self.access_tx(
            sql,
            "data_product_dataset_link_cancelled",
            link,
            Side::Consumer,
        )
        .await
    }

    /// Delete the link (its requests go with it), audit row in the same transaction.
    pub async fn remove_access(&mut self, link: &str, side: Side) -> String {
        let sql = format!("DELETE FROM input_ports WHERE id = '{link}';");
        self.access_tx(sql, "data_product_dataset_link_removed", link, side)
            .await
    }

    /// The consumer and output port of an access link.
    pub fn access_link(&self, link: &str) -> (String, String) {
        self.access[link].clone()
    }
}
