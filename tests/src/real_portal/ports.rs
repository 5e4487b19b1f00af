//! Output ports: create, update, settings, and removal with their links and team.

use super::*;

impl Portal {
    // ---- output ports ------------------------------------------------------------------

    /// Create an output port of `product` (`access_type`: RESTRICTED, UNRESTRICTED, …):
    /// the insert, its search vector and embeddings right after, then `dataset_created`.
    pub async fn create_port(&mut self, product: &str, name: &str, access_type: &str) -> String {
        let id = new_id();
        let n = self.seq();
        let namespace = format!("{}-{n}", name.to_ascii_lowercase().replace(' ', "-"));
        self.change(&format!(
            "INSERT INTO datasets(id, namespace, name, description, about, status, access_type, lifecycle_id, usage, data_product_id)
                VALUES ('{id}', '{namespace}', '{name}', 'Port {name}', '# {name}', 'ACTIVE', '{access_type}', '{}', 'internal', '{product}')",
            seed::LIFECYCLE_DRAFT
        ))
        .await;
        self.change(&format!(
            "UPDATE datasets SET search_vector = to_tsvector('simple', '{name}'), embeddings = '[0.1,0.2]' WHERE id = '{id}'"
        ))
        .await;
        self.port_product.insert(id.clone(), product.to_string());
        self.names.insert(id.clone(), name.to_string());
        self.audit_later("dataset_created", (DS, &id), None, &id)
            .await;
        id
    }

    pub async fn update_port(&mut self, id: &str, description: &str) -> String {
        self.change(&format!(
            "UPDATE datasets SET description = '{description}', updated_on = timezone('utc', now()) WHERE id = '{id}'"
        ))
        .await;
        self.audit_later("dataset_updated", (DS, id), None, id)
            .await
    }

    pub async fn update_port_setting(&mut self, id: &str, value: &str) -> String {
        let product = self.port_product[id].clone();
        self.change(&format!(
            "DELETE FROM data_products_settings_values WHERE dataset_id = '{id}';
             INSERT INTO data_products_settings_values(id, data_product_id, data_product_setting_id, value, dataset_id)
                VALUES ('{}', '{product}', '{}', '{value}', '{id}')",
            new_id(),
            seed::PRODUCT_SETTING
        ))
        .await;
        self.audit_later("dataset_setting_updated", (DS, id), None, id)
            .await
    }

    /// Delete an output port with its links, access links and team (one transaction),
    /// then `dataset_removed` (`DATASET → DATA_PRODUCT`).
    pub async fn remove_port(&mut self, id: &str) -> Cascade {
        let product = self.port_product[id].clone();
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let ids = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
            rows.iter().map(|r| r.get::<_, String>(0)).collect()
        };
        let c = Cascade {
            access_links: ids(tx
                .query(
                    "DELETE FROM input_ports WHERE dataset_id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            asset_links: ids(tx
                .query(
                    "DELETE FROM data_outputs_datasets WHERE dataset_id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            port_memberships: ids(tx
                .query(
                    "DELETE FROM role_assignments_dataset WHERE dataset_id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            output_ports: ids(tx
                .query(
                    "DELETE FROM datasets WHERE id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            ..Cascade::default()
        };
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        self.audit_later("dataset_removed", (DS, id), Some((DP, &product)), id)
            .await;
        c
    }
}
