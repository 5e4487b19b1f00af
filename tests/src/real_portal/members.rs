//! Role assignments: data product and output port members, requested, added, decided,
//! updated and removed.

use super::*;

impl Portal {
    // ---- role assignments --------------------------------------------------------------

    /// A user asks for a role in a data product: the assignment, then the audit row.
    pub async fn request_product_role(&mut self, product: &str, user: &str) -> String {
        let ra = new_id();
        self.change(&format!(
            "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision, requested_by_id)
                VALUES ('{ra}', '{product}', '{user}', '{}', 'PENDING', '{user}')",
            seed::ROLE_PRODUCT_MEMBER
        ))
        .await;
        self.product_roles
            .insert(ra.clone(), (product.to_string(), user.to_string()));
        self.audit_later(
            "data_product_role_assignment_requested",
            (DP, product),
            Some((US, user)),
            product,
        )
        .await;
        ra
    }

    /// An owner adds a member directly: the assignment, then `…_created`.
    pub async fn add_product_member(&mut self, product: &str, user: &str) -> String {
        let ra = new_id();
        self.change(&format!(
            "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision, requested_by_id, decided_by_id, decided_on)
                VALUES ('{ra}', '{product}', '{user}', '{}', 'APPROVED', '{actor}', '{actor}', timezone('utc', now()))",
            seed::ROLE_PRODUCT_MEMBER,
            actor = self.actor
        ))
        .await;
        self.product_roles
            .insert(ra.clone(), (product.to_string(), user.to_string()));
        self.audit_later(
            "data_product_role_assignment_created",
            (DP, product),
            Some((US, user)),
            product,
        )
        .await;
        ra
    }

    async fn product_role_change(&mut self, ra: &str, sql: String, name: &str) -> String {
        let (product, user) = self.product_roles[ra].clone();
        self.change(&sql).await;
        self.audit_later(name, (DP, &product), Some((US, &user)), &product)
            .await
    }

    pub async fn approve_product_role(&mut self, ra: &str) -> String {
        let sql = format!(
            "UPDATE role_assignments_data_product SET decision = 'APPROVED', decided_by_id = '{}', decided_on = timezone('utc', now()) WHERE id = '{ra}'",
            self.actor
        );
        self.product_role_change(ra, sql, "data_product_role_assignment_approved")
            .await
    }

    /// Deny a role request: the assignment is deleted, then the audit row.
    pub async fn deny_product_role(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_data_product WHERE id = '{ra}'");
        self.product_role_change(ra, sql, "data_product_role_assignment_denied")
            .await
    }

    pub async fn update_product_role(&mut self, ra: &str, role: &str) -> String {
        let sql = format!(
            "UPDATE role_assignments_data_product SET role_id = '{role}' WHERE id = '{ra}'"
        );
        self.product_role_change(ra, sql, "data_product_role_assignment_updated")
            .await
    }

    pub async fn remove_product_member(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_data_product WHERE id = '{ra}'");
        self.product_role_change(ra, sql, "data_product_role_assignment_removed")
            .await
    }

    async fn port_role_same_tx(&mut self, sql: String, ra: &str, name: &str) -> String {
        let (port, user) = self.port_roles[ra].clone();
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&sql).await.unwrap();
        let id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, $2, 'DATASET', $3::text::uuid, 'USER', $4::text::uuid, $5::text::uuid)",
            &[&id, &name, &port, &user, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: id.clone(),
            name: name.into(),
            subject: port,
        });
        id
    }

    /// A user asks for a role on an output port: assignment and audit row in one
    /// transaction.
    pub async fn request_port_role(&mut self, port: &str, user: &str) -> String {
        let ra = new_id();
        let product = self.port_product[port].clone();
        self.port_roles
            .insert(ra.clone(), (port.to_string(), user.to_string()));
        let sql = format!(
            "INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision, requested_by_id, data_product_id)
                VALUES ('{ra}', '{port}', '{user}', '{}', 'PENDING', '{user}', '{product}')",
            seed::ROLE_PORT_CONSUMER
        );
        self.port_role_same_tx(sql, &ra, "dataset_role_assignment_requested")
            .await;
        ra
    }

    /// An owner adds an output port member through the role-assignment API: assignment
    /// and audit row in one transaction.
    pub async fn add_port_member(&mut self, port: &str, user: &str) -> String {
        let ra = new_id();
        let product = self.port_product[port].clone();
        self.port_roles
            .insert(ra.clone(), (port.to_string(), user.to_string()));
        let sql = format!(
            "INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision, requested_by_id, decided_by_id, decided_on, data_product_id)
                VALUES ('{ra}', '{port}', '{user}', '{}', 'APPROVED', '{actor}', '{actor}', timezone('utc', now()), '{product}')",
            seed::ROLE_PORT_CONSUMER,
            actor = self.actor
        );
        self.port_role_same_tx(sql, &ra, "dataset_role_assignment_created")
            .await;
        ra
    }

    async fn port_role_change(&mut self, ra: &str, sql: String, name: &str) -> String {
        let (port, user) = self.port_roles[ra].clone();
        self.change(&sql).await;
        self.audit_later(name, (DS, &port), Some((US, &user)), &port)
            .await
    }

    pub async fn approve_port_role(&mut self, ra: &str) -> String {
        let sql = format!(
            "UPDATE role_assignments_dataset SET decision = 'APPROVED', decided_by_id = '{}', decided_on = timezone('utc', now()) WHERE id = '{ra}'",
            self.actor
        );
        self.port_role_change(ra, sql, "dataset_role_assignment_approved")
            .await
    }

    pub async fn deny_port_role(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_dataset WHERE id = '{ra}'");
        self.port_role_change(ra, sql, "dataset_role_assignment_denied")
            .await
    }

    pub async fn update_port_role(&mut self, ra: &str, role: &str) -> String {
        let sql =
            format!("UPDATE role_assignments_dataset SET role_id = '{role}' WHERE id = '{ra}'");
        self.port_role_change(ra, sql, "dataset_role_assignment_updated")
            .await
    }

    pub async fn remove_port_member(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_dataset WHERE id = '{ra}'");
        self.port_role_change(ra, sql, "dataset_role_assignment_removed")
            .await
    }
}
