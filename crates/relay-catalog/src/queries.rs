//! The catalog's data tables: the named lookups (all the SQL the enricher runs), the
//! technical asset configuration types, and the tables whose deletes must be captured.

/// A lookup: one SQL statement reading one kind of entity for a whole batch
/// (`WHERE … = ANY($1::text[]::uuid[])`). Every column is cast to text, so a looked-up row
/// has the same shape as a tombstone captured from the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedQuery {
    pub name: &'static str,
    /// The table the rows belong to (the key rows are stored under).
    pub table: &'static str,
    /// What `$1` (… `$n`) are.
    pub keys: &'static str,
    pub sql: &'static str,
}

/// A domain table whose deletes the relay must capture (REPLICA IDENTITY FULL, published
/// for DELETE), and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturedTable {
    pub table: &'static str,
    /// What the removal event needs from the deleted row.
    pub why: &'static str,
    /// Audit names whose arrival resolves a held delete of this table (the removal of the
    /// row itself or of a parent it is deleted in cascade with).
    pub resolved_by: &'static [&'static str],
}

/// A technical asset configuration type and its per-type table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigurationType {
    /// `data_output_configurations.configuration_type`.
    pub configuration_type: &'static str,
    pub table: &'static str,
    /// The [`NamedQuery`] reading the per-type table.
    pub query: &'static str,
}

macro_rules! configuration_query {
    ($name:literal, $table:literal) => {
        NamedQuery {
            name: $name,
            table: $table,
            keys: "$1: configuration ids",
            sql: concat!(
                "SELECT t.id::text AS id, e.key AS column_name, e.value AS column_value FROM ",
                $table,
                " t CROSS JOIN LATERAL jsonb_each_text(to_jsonb(t) - 'id' - 'created_on' - 'updated_on' - 'deleted_at') e \
                 WHERE t.id = ANY($1::text[]::uuid[])"
            ),
        }
    };
}

/// Named query: data products (with `data_products` and `explorations` columns).
pub const Q_PRODUCTS: &str = "products";
pub const Q_OUTPUT_PORTS: &str = "output_ports";
pub const Q_TECHNICAL_ASSETS: &str = "technical_assets";
pub const Q_CONFIGURATIONS: &str = "technical_asset_configurations";
pub const Q_LINKS_BY_PAIR: &str = "asset_port_links_by_pair";
pub const Q_LINKS_BY_PORT: &str = "asset_port_links_by_port";
pub const Q_ACCESS_BY_PAIR: &str = "access_links_by_pair";
pub const Q_ACCESS_REQUESTS: &str = "access_requests";
pub const Q_PRODUCT_MEMBERS: &str = "product_members";
pub const Q_PORT_MEMBERS: &str = "port_members";
pub const Q_USERS: &str = "users";
pub const Q_ROLES: &str = "roles";
pub const Q_REFERENCE: &str = "reference_names";

/// Every lookup the enricher runs.
pub static QUERIES: &[NamedQuery] = &[
    NamedQuery {
        name: Q_PRODUCTS,
        table: "abstract_data_products",
        keys: "$1: data product ids",
        sql: "SELECT adp.id::text AS id, adp.name::text AS name, adp.namespace::text AS namespace, \
              adp.abstract_data_product_type::text AS abstract_data_product_type, adp.status::text AS status, \
              adp.description::text AS description, adp.domain_id::text AS domain_id, \
              dp.about::text AS about, dp.usage::text AS usage, dp.type_id::text AS type_id, \
              dp.lifecycle_id::text AS lifecycle_id, ex.owner_id::text AS owner_id \
              FROM abstract_data_products adp \
              LEFT JOIN data_products dp ON dp.id = adp.id \
              LEFT JOIN explorations ex ON ex.id = adp.id \
              WHERE adp.id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_OUTPUT_PORTS,
        table: "datasets",
        keys: "$1: output port ids",
        sql: "SELECT id::text AS id, namespace::text AS namespace, name::text AS name, \
              description::text AS description, status::text AS status, access_type::text AS access_type, \
              data_product_id::text AS data_product_id \
              FROM datasets WHERE id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_TECHNICAL_ASSETS,
        table: "data_outputs",
        keys: "$1: technical asset ids",
        sql: "SELECT id::text AS id, namespace::text AS namespace, name::text AS name, status::text AS status, \
              platform_id::text AS platform_id, service_id::text AS service_id, owner_id::text AS owner_id, \
              configuration_id::text AS configuration_id \
              FROM data_outputs WHERE id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_CONFIGURATIONS,
        table: "data_output_configurations",
        keys: "$1: configuration ids",
        sql: "SELECT id::text AS id, configuration_type::text AS configuration_type \
              FROM data_output_configurations WHERE id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_LINKS_BY_PAIR,
        table: "data_outputs_datasets",
        keys: "$1: technical asset ids, $2: output port ids (pairwise)",
        sql: "SELECT l.id::text AS id, l.data_output_id::text AS data_output_id, l.dataset_id::text AS dataset_id, \
              l.status::text AS status \
              FROM data_outputs_datasets l \
              JOIN unnest($1::text[]::uuid[], $2::text[]::uuid[]) AS k(data_output_id, dataset_id) \
              ON l.data_output_id = k.data_output_id AND l.dataset_id = k.dataset_id",
    },
    NamedQuery {
        name: Q_LINKS_BY_PORT,
        table: "data_outputs_datasets",
        keys: "$1: output port ids",
        sql: "SELECT id::text AS id, data_output_id::text AS data_output_id, dataset_id::text AS dataset_id, \
              status::text AS status \
              FROM data_outputs_datasets WHERE dataset_id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_ACCESS_BY_PAIR,
        table: "input_ports",
        keys: "$1: consuming product ids, $2: output port ids (pairwise)",
        sql: "SELECT ip.id::text AS id, ip.consuming_abstract_data_product_id::text AS consuming_abstract_data_product_id, \
              ip.dataset_id::text AS dataset_id, ip.status::text AS status \
              FROM input_ports ip \
              JOIN unnest($1::text[]::uuid[], $2::text[]::uuid[]) AS k(consumer_id, dataset_id) \
              ON ip.consuming_abstract_data_product_id = k.consumer_id AND ip.dataset_id = k.dataset_id",
    },
    NamedQuery {
        name: Q_ACCESS_REQUESTS,
        table: "input_port_requests",
        keys: "$1: access link (input port) ids; the latest request of each",
        sql: "SELECT DISTINCT ON (r.input_port_id) r.id::text AS id, r.input_port_id::text AS input_port_id, \
              r.decision::text AS decision, r.justification::text AS justification, \
              r.access_duration_type::text AS access_duration_type, r.valid_from::text AS valid_from, \
              r.valid_until::text AS valid_until, r.revoked_at::text AS revoked_at, r.created_on::text AS created_on \
              FROM input_port_requests r WHERE r.input_port_id = ANY($1::text[]::uuid[]) \
              ORDER BY r.input_port_id, r.created_on DESC NULLS LAST, r.id",
    },
    NamedQuery {
        name: Q_PRODUCT_MEMBERS,
        table: "role_assignments_data_product",
        keys: "$1: data product ids",
        sql: "SELECT id::text AS id, data_product_id::text AS data_product_id, user_id::text AS user_id, \
              role_id::text AS role_id, decision::text AS decision \
              FROM role_assignments_data_product WHERE data_product_id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_PORT_MEMBERS,
        table: "role_assignments_dataset",
        keys: "$1: output port ids",
        sql: "SELECT id::text AS id, dataset_id::text AS dataset_id, user_id::text AS user_id, \
              role_id::text AS role_id, decision::text AS decision \
              FROM role_assignments_dataset WHERE dataset_id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_USERS,
        table: "users",
        keys: "$1: user ids",
        sql: "SELECT id::text AS id, email::text AS email, external_id::text AS external_id, \
              first_name::text AS first_name, last_name::text AS last_name \
              FROM users WHERE id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_ROLES,
        table: "roles",
        keys: "$1: role ids",
        sql: "SELECT id::text AS id, name::text AS name, scope::text AS scope, prototype::text AS prototype \
              FROM roles WHERE id = ANY($1::text[]::uuid[])",
    },
    NamedQuery {
        name: Q_REFERENCE,
        table: "*",
        keys: "$1: domain ids, $2: data product type ids, $3: lifecycle ids, $4: platform ids, $5: platform service ids; \
               the table each row belongs to is in column `table_name`",
        sql: "SELECT 'domains' AS table_name, id::text AS id, name::text AS name, NULL::text AS value \
              FROM domains WHERE id = ANY($1::text[]::uuid[]) \
              UNION ALL SELECT 'data_product_types', id::text, name::text, NULL::text \
              FROM data_product_types WHERE id = ANY($2::text[]::uuid[]) \
              UNION ALL SELECT 'data_product_lifecycles', id::text, name::text, value::text \
              FROM data_product_lifecycles WHERE id = ANY($3::text[]::uuid[]) \
              UNION ALL SELECT 'platforms', id::text, name::text, NULL::text \
              FROM platforms WHERE id = ANY($4::text[]::uuid[]) \
              UNION ALL SELECT 'platform_services', id::text, name::text, NULL::text \
              FROM platform_services WHERE id = ANY($5::text[]::uuid[])",
    },
    configuration_query!(
        "configuration_s3",
        "s3_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_glue",
        "glue_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_databricks",
        "databricks_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_snowflake",
        "snowflake_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_redshift",
        "redshift_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_azure_blob",
        "azure_blob_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_postgresql",
        "postgresql_technical_asset_configurations"
    ),
    configuration_query!(
        "configuration_osi_semantic_model",
        "osi_semantic_model_technical_asset_configurations"
    ),
];

/// The technical asset configuration types the catalog knows, with their per-type table.
/// A configuration of another type is delivered with its `type` only.
pub static CONFIGURATION_TYPES: &[ConfigurationType] = &[
    ConfigurationType {
        configuration_type: "S3TechnicalAssetConfiguration",
        table: "s3_technical_asset_configurations",
        query: "configuration_s3",
    },
    ConfigurationType {
        configuration_type: "GlueTechnicalAssetConfiguration",
        table: "glue_technical_asset_configurations",
        query: "configuration_glue",
    },
    ConfigurationType {
        configuration_type: "DatabricksTechnicalAssetConfiguration",
        table: "databricks_technical_asset_configurations",
        query: "configuration_databricks",
    },
    ConfigurationType {
        configuration_type: "SnowflakeTechnicalAssetConfiguration",
        table: "snowflake_technical_asset_configurations",
        query: "configuration_snowflake",
    },
    ConfigurationType {
        configuration_type: "RedshiftTechnicalAssetConfiguration",
        table: "redshift_technical_asset_configurations",
        query: "configuration_redshift",
    },
    ConfigurationType {
        configuration_type: "AzureBlobTechnicalAssetConfiguration",
        table: "azure_blob_technical_asset_configurations",
        query: "configuration_azure_blob",
    },
    ConfigurationType {
        configuration_type: "PostgreSQLTechnicalAssetConfiguration",
        table: "postgresql_technical_asset_configurations",
        query: "configuration_postgresql",
    },
    ConfigurationType {
        configuration_type: "OSISemanticModelTechnicalAssetConfiguration",
        table: "osi_semantic_model_technical_asset_configurations",
        query: "configuration_osi_semantic_model",
    },
];

/// Domain tables whose deletes must be captured, so removal events carry the last state.
pub static CAPTURED_TABLES: &[CapturedTable] = &[
    CapturedTable {
        table: "abstract_data_products",
        why: "data_product_removed commits after the row is gone: name, namespace, status, domain of the removed product",
        resolved_by: &["data_product_removed"],
    },
    CapturedTable {
        table: "data_products",
        why: "the removed product's type, lifecycle, about/usage",
        resolved_by: &["data_product_removed"],
    },
    CapturedTable {
        table: "explorations",
        why: "the owner of a removed exploration (explorations are not audited; a consumer of access events)",
        resolved_by: &["data_product_removed"],
    },
    CapturedTable {
        table: "datasets",
        why: "dataset_removed commits after the row is gone; output ports deleted in cascade with a product",
        resolved_by: &["dataset_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "data_outputs",
        why: "data_output_removed commits after the row is gone; technical assets deleted in cascade with a product",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "data_output_configurations",
        why: "the configuration type of a removed technical asset (what to deprovision)",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "s3_technical_asset_configurations",
        why: "bucket/suffix/path of a removed S3 technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "glue_technical_asset_configurations",
        why: "database/table of a removed Glue technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "databricks_technical_asset_configurations",
        why: "catalog/schema/table of a removed Databricks technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "snowflake_technical_asset_configurations",
        why: "database/schema/table of a removed Snowflake technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "redshift_technical_asset_configurations",
        why: "database/schema/table of a removed Redshift technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "azure_blob_technical_asset_configurations",
        why: "storage domain/container/path of a removed Azure Blob technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "postgresql_technical_asset_configurations",
        why: "database/schema/table of a removed PostgreSQL technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "osi_semantic_model_technical_asset_configurations",
        why: "model name/location of a removed OSI semantic model technical asset",
        resolved_by: &["data_output_removed", "data_product_removed"],
    },
    CapturedTable {
        table: "data_outputs_datasets",
        why: "data_output_dataset_link_removed deletes the link in the same transaction: which asset was linked to which port",
        resolved_by: &[
            "data_output_dataset_link_removed",
            "data_output_removed",
            "dataset_removed",
            "data_product_removed",
        ],
    },
    CapturedTable {
        table: "input_ports",
        why: "access removed/cancelled deletes the link in the same transaction; access links deleted in cascade with a product or port",
        resolved_by: &[
            "data_product_dataset_link_removed",
            "data_product_dataset_link_cancelled",
            "dataset_removed",
            "data_product_removed",
        ],
    },
    CapturedTable {
        table: "input_port_requests",
        why: "validity (duration type, valid from/until) of a removed access link",
        resolved_by: &[
            "data_product_dataset_link_removed",
            "data_product_dataset_link_cancelled",
            "dataset_removed",
            "data_product_removed",
        ],
    },
    CapturedTable {
        table: "role_assignments_data_product",
        why: "data_product_role_assignment_removed/denied commit after the assignment is gone: which user had which role",
        resolved_by: &[
            "data_product_role_assignment_removed",
            "data_product_role_assignment_denied",
            "data_product_removed",
        ],
    },
    CapturedTable {
        table: "role_assignments_dataset",
        why: "dataset_role_assignment_removed/denied commit after the assignment is gone: which user had which role",
        resolved_by: &[
            "dataset_role_assignment_removed",
            "dataset_role_assignment_denied",
            "dataset_removed",
            "data_product_removed",
        ],
    },
];
