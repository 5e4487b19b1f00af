//! Technical assets (create, update, removal with their configuration) and their links
//! to output ports (request, approve, deny, remove).

use super::*;

impl Portal {
    // ---- technical assets --------------------------------------------------------------

    /// Create a technical asset of `product` with `config`: configuration rows and the
    /// asset in one transaction, then `data_output_created` (`DATA_OUTPUT → DATA_PRODUCT`).
    pub async fn create_asset(&mut self, product: &str, name: &str, config: &TechConfig) -> Asset {
        let id = new_id();
        let cfg = new_id();
        let n = self.seq();
        let namespace = format!("{}-{n}", name.to_ascii_lowercase().replace(' ', "-"));
        let mut sql = format!(
            "INSERT INTO data_output_configurations(id, configuration_type) VALUES ('{cfg}', '{}');",
            config.configuration_type
        );
        if let Some(table) = config.table {
            let cols: Vec<String> = config
                .fields
                .iter()
                .map(|(k, _)| format!("\"{k}\""))
                .collect();
            let vals: Vec<String> = config
                .fields
                .iter()
                .map(|(_, v)| format!("'{}'", v.replace('\'', "''")))
                .collect();
            sql.push_str(&format!(
                "INSERT INTO {table}(id, {}) VALUES ('{cfg}', {});",
                cols.join(", "),
                vals.join(", ")
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO data_outputs(id, namespace, name, description, status, platform_id, service_id, owner_id, configuration_id, technical_mapping)
                VALUES ('{id}', '{namespace}', '{name}', 'Asset {name}', 'ACTIVE', '{}', '{}', '{product}', '{cfg}', 'default')",
            config.platform, config.service
        ));
        self.change(&sql).await;
        self.asset_product.insert(id.clone(), product.to_string());
        self.names.insert(id.clone(), name.to_string());
        self.audit_later("data_output_created", (DO, &id), Some((DP, product)), &id)
            .await;
        Asset {
            id,
            configuration_id: cfg,
        }
    }

    pub async fn update_asset(&mut self, id: &str, description: &str) -> String {
        self.change(&format!(
            "UPDATE data_outputs SET description = '{description}', updated_on = timezone('utc', now()) WHERE id = '{id}'"
        ))
        .await;
        self.audit_later("data_output_updated", (DO, id), None, id)
            .await
    }

    /// Delete a technical asset with its links and configuration (one transaction), then
    /// `data_output_removed` (`DATA_OUTPUT → DATA_PRODUCT`).
    pub async fn remove_asset(&mut self, id: &str) -> Cascade {
        let product = self.asset_product[id].clone();
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let links: Vec<String> = tx
            .query(
                "DELETE FROM data_outputs_datasets WHERE data_output_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let cfg: Option<String> = tx
            .query_one(
                "DELETE FROM data_outputs WHERE id = $1::text::uuid RETURNING configuration_id::text",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        tx.execute(
            "DELETE FROM data_output_configurations WHERE id = $1::text::uuid",
            &[&cfg],
        )
        .await
        .unwrap();
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        self.audit_later("data_output_removed", (DO, id), Some((DP, &product)), id)
            .await;
        Cascade {
            technical_assets: vec![id.to_string()],
            asset_links: links,
            ..Cascade::default()
        }
    }

    // ---- technical asset ↔ output port links -------------------------------------------

    /// Request a link: the link, an output port update and the audit row in one
    /// transaction (`DATA_OUTPUT → DATASET`). Returns the link id.
    pub async fn request_asset_link(&mut self, asset: &str, port: &str) -> String {
        let link = new_id();
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&format!(
            "INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status, requested_by_id)
                VALUES ('{link}', '{asset}', '{port}', 'PENDING', '{actor}');
             UPDATE datasets SET updated_on = timezone('utc', now()) WHERE id = '{port}';",
            actor = self.actor
        ))
        .await
        .unwrap();
        let audit_id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, 'data_output_dataset_link_requested', 'DATA_OUTPUT', $2::text::uuid, 'DATASET', $3::text::uuid, $4::text::uuid)",
            &[&audit_id, &asset, &port, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: audit_id,
            name: "data_output_dataset_link_requested".into(),
            subject: link.clone(),
        });
        self.asset_links
            .insert(link.clone(), (asset.to_string(), port.to_string()));
        link
    }

    async fn decide_asset_link(&mut self, link: &str, status: &str, name: &str) -> String {
        let (asset, port) = self.asset_links[link].clone();
        let who = if status == "APPROVED" {
            "approved"
        } else {
            "denied"
        };
        self.change(&format!(
            "UPDATE data_outputs_datasets SET status = '{status}', {who}_by_id = '{actor}', {who}_on = timezone('utc', now())
              WHERE id = '{link}'",
            actor = self.actor
        ))
        .await;
        self.audit_later(name, (DS, &port), Some((DO, &asset)), link)
            .await
    }

    pub async fn approve_asset_link(&mut self, link: &str) -> String {
        self.decide_asset_link(link, "APPROVED", "data_output_dataset_link_approved")
            .await
    }

    pub async fn deny_asset_link(&mut self, link: &str) -> String {
        self.decide_asset_link(link, "DENIED", "data_output_dataset_link_denied")
            .await
    }

    /// Unlink: the delete, then `data_output_dataset_link_removed` (`DATA_OUTPUT → DATASET`).
    pub async fn remove_asset_link(&mut self, link: &str) -> String {
        let (asset, port) = self.asset_links[link].clone();
        self.change(&format!(
            "DELETE FROM data_outputs_datasets WHERE id = '{link}';
             UPDATE datasets SET updated_on = timezone('utc', now()) WHERE id = '{port}'"
        ))
        .await;
        self.audit_later(
            "data_output_dataset_link_removed",
            (DO, &asset),
            Some((DS, &port)),
            link,
        )
        .await
    }
}
