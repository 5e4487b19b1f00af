//! Data products: create (with the owner's role assignment), update, settings, removal
//! with everything that goes with it, and finalizer-delayed removal.

use super::*;

impl Portal {
    // ---- data products -----------------------------------------------------------------

    /// Create a data product: the product and its owner's role assignment (with its
    /// `data_product_role_assignment_created` row) in one transaction, then
    /// `data_product_created`.
    pub async fn create_product(&mut self, name: &str) -> Product {
        self.create_product_with(name, &[]).await
    }

    /// A data product with finalizers (`abstract_data_products.finalizers`).
    pub async fn create_product_with(&mut self, name: &str, finalizers: &[&str]) -> Product {
        use seed::*;
        let id = new_id();
        let owner_ra = new_id();
        let namespace = name.to_ascii_lowercase().replace(' ', "-");
        let fin = format!(
            "ARRAY[{}]::varchar[]",
            finalizers
                .iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, abstract_data_product_type, description, namespace, domain_id, finalizers, status)
                VALUES ('{id}', '{name}', 'data_products', 'About {name}', '{namespace}', '{DOMAIN}', {fin}, 'active');
             INSERT INTO data_products(id, about, type_id, lifecycle_id, usage)
                VALUES ('{id}', '# {name}', '{PRODUCT_TYPE}', '{LIFECYCLE_DRAFT}', 'internal');
             INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision, requested_by_id, decided_by_id, decided_on)
                VALUES ('{owner_ra}', '{id}', '{actor}', '{ROLE_PRODUCT_OWNER}', 'APPROVED', '{actor}', '{actor}', timezone('utc', now()));",
            actor = self.actor
        ))
        .await
        .unwrap();
        let audit_id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, 'data_product_role_assignment_created', 'DATA_PRODUCT', $2::text::uuid, 'USER', $3::text::uuid, $3::text::uuid)",
            &[&audit_id, &id, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: audit_id,
            name: "data_product_role_assignment_created".into(),
            subject: id.clone(),
        });
        self.product_roles
            .insert(owner_ra.clone(), (id.clone(), self.actor.clone()));
        self.names.insert(id.clone(), name.to_string());
        self.audit_later("data_product_created", (DP, &id), None, &id)
            .await;
        Product {
            id,
            name: name.into(),
            owner_assignment: owner_ra,
        }
    }

    pub async fn update_product(&mut self, id: &str, about: &str) -> String {
        self.change(&format!(
            "UPDATE abstract_data_products SET description = '{about}', updated_on = timezone('utc', now()) WHERE id = '{id}';
             UPDATE data_products SET about = '{about}', lifecycle_id = '{}' WHERE id = '{id}'",
            seed::LIFECYCLE_PRODUCTION
        ))
        .await;
        self.audit_later("data_product_updated", (DP, id), None, id)
            .await
    }

    pub async fn update_product_setting(&mut self, id: &str, value: &str) -> String {
        self.change(&format!(
            "DELETE FROM data_products_settings_values WHERE data_product_id = '{id}';
             INSERT INTO data_products_settings_values(id, data_product_id, data_product_setting_id, value)
                VALUES ('{}', '{id}', '{}', '{value}')",
            new_id(),
            seed::PRODUCT_SETTING
        ))
        .await;
        self.audit_later("data_product_setting_updated", (DP, id), None, id)
            .await
    }

    /// Delete a data product with everything that goes with it (one transaction), then
    /// `data_product_removed` alone. Returns what the cascade deleted.
    pub async fn remove_product(&mut self, id: &str) -> Cascade {
        let cascade = self.delete_product_rows(id).await;
        self.audit_later("data_product_removed", (DP, id), None, id)
            .await;
        cascade
    }

    /// DELETE of a data product answered 202: it has finalizers, so it is only marked
    /// `deleting` (no audit row).
    pub async fn request_delete(&mut self, id: &str) {
        self.change(&format!(
            "UPDATE abstract_data_products SET status = 'deleting', updated_on = timezone('utc', now()) WHERE id = '{id}'"
        ))
        .await;
    }

    /// A finalizer is done (not audited). When it was the last one of a product marked
    /// `deleting`, the product is removed: cascade, then `data_product_removed`.
    pub async fn remove_finalizer(&mut self, id: &str, finalizer: &str) -> Option<Cascade> {
        let row = self
            .client
            .query_one(
                "UPDATE abstract_data_products SET finalizers = array_remove(finalizers, $2)
                 WHERE id = $1::text::uuid RETURNING cardinality(finalizers), status",
                &[&id, &finalizer],
            )
            .await
            .unwrap();
        let left: i32 = row.get(0);
        let status: String = row.get(1);
        if left == 0 && status == "deleting" {
            Some(self.remove_product(id).await)
        } else {
            None
        }
    }

    async fn delete_product_rows(&mut self, id: &str) -> Cascade {
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let ids = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
            rows.iter().map(|r| r.get::<_, String>(0)).collect()
        };
        let ports = ids(tx
            .query(
                "SELECT id::text FROM datasets WHERE data_product_id = $1::text::uuid ORDER BY id",
                &[&id],
            )
            .await
            .unwrap());
        let assets = ids(tx
            .query(
                "SELECT id::text FROM data_outputs WHERE owner_id = $1::text::uuid ORDER BY id",
                &[&id],
            )
            .await
            .unwrap());
        let mut c = Cascade {
            access_links: ids(tx
                .query(
                    "DELETE FROM input_ports WHERE consuming_abstract_data_product_id = $1::text::uuid
                        OR dataset_id = ANY($2::text[]::uuid[]) RETURNING id::text",
                    &[&id, &ports],
                )
                .await
                .unwrap()),
            asset_links: ids(tx
                .query(
                    "DELETE FROM data_outputs_datasets WHERE data_output_id = ANY($1::text[]::uuid[])
                        OR dataset_id = ANY($2::text[]::uuid[]) RETURNING id::text",
                    &[&assets, &ports],
                )
                .await
                .unwrap()),
            port_memberships: ids(tx
                .query(
                    "DELETE FROM role_assignments_dataset WHERE dataset_id = ANY($2::text[]::uuid[])
                        OR data_product_id = $1::text::uuid RETURNING id::text",
                    &[&id, &ports],
                )
                .await
                .unwrap()),
            ..Cascade::default()
        };
        tx.execute(
            "DELETE FROM data_products_settings_values WHERE data_product_id = $1::text::uuid
                OR dataset_id = ANY($2::text[]::uuid[])",
            &[&id, &ports],
        )
        .await
        .unwrap();
        c.output_ports = ids(tx
            .query(
                "DELETE FROM datasets WHERE data_product_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap());
        let configs: Vec<String> = tx
            .query(
                "DELETE FROM data_outputs WHERE owner_id = $1::text::uuid RETURNING id::text, configuration_id::text",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                c.technical_assets.push(r.get(0));
                r.get::<_, Option<String>>(1).unwrap_or_default()
            })
            .collect();
        tx.execute(
            "DELETE FROM data_output_configurations WHERE id = ANY($1::text[]::uuid[])",
            &[&configs],
        )
        .await
        .unwrap();
        c.product_memberships = ids(tx
            .query(
                "DELETE FROM role_assignments_data_product WHERE data_product_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap());
        tx.execute(
            "DELETE FROM data_products WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
        tx.execute(
            "DELETE FROM abstract_data_products WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        for p in &c.output_ports {
            self.port_product.remove(p);
        }
        c
    }
}
