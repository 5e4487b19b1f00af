//! Explorations: created and deleted, never audited.

use super::*;

impl Portal {
    // ---- explorations (never audited) --------------------------------------------------

    /// Create an exploration owned by `owner` (no audit row).
    pub async fn create_exploration(&mut self, name: &str, owner: &str) -> String {
        let id = new_id();
        let namespace = name.to_ascii_lowercase().replace(' ', "-");
        self.change(&format!(
            "INSERT INTO abstract_data_products(id, name, abstract_data_product_type, description, namespace, domain_id, status)
                VALUES ('{id}', '{name}', 'explorations', 'Exploring', '{namespace}', '{}', 'active');
             INSERT INTO explorations(id, owner_id) VALUES ('{id}', '{owner}')",
            seed::DOMAIN
        ))
        .await;
        self.names.insert(id.clone(), name.to_string());
        id
    }

    /// Delete an exploration with its access links (one transaction, no audit row).
    /// Returns the access links that went with it.
    pub async fn delete_exploration(&mut self, id: &str) -> Vec<String> {
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let links: Vec<String> = tx
            .query(
                "DELETE FROM input_ports WHERE consuming_abstract_data_product_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.execute("DELETE FROM explorations WHERE id = $1::text::uuid", &[&id])
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
        links
    }
}
