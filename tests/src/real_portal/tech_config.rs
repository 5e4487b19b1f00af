//! Technical asset configurations: one of each of the eight types of the real schema,
//! and a type no portal release has.

use super::seed;

/// A technical asset configuration: its `configuration_type`, its per-type table and the
/// values of that table's columns (all text in the real schema).
#[derive(Debug, Clone)]
pub struct TechConfig {
    pub configuration_type: String,
    /// `None`: a type the portal does not have (no per-type row).
    pub table: Option<&'static str>,
    pub fields: Vec<(&'static str, String)>,
    pub platform: &'static str,
    pub service: &'static str,
}

impl TechConfig {
    fn new(
        ty: &str,
        table: &'static str,
        platform: &'static str,
        service: &'static str,
        fields: &[(&'static str, &str)],
    ) -> TechConfig {
        TechConfig {
            configuration_type: ty.into(),
            table: Some(table),
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            platform,
            service,
        }
    }

    /// One configuration of each of the eight types of the real schema; `tag` makes the
    /// values distinct per call.
    pub fn all_types(tag: &str) -> Vec<TechConfig> {
        use seed::*;
        let t = |s: &str| format!("{s}-{tag}");
        vec![
            TechConfig::new(
                "S3TechnicalAssetConfiguration",
                "s3_technical_asset_configurations",
                PLATFORM_AWS,
                SERVICE_S3,
                &[
                    ("bucket", &t("datalake")),
                    ("suffix", &t("revenue")),
                    ("path", &t("daily")),
                ],
            ),
            TechConfig::new(
                "GlueTechnicalAssetConfiguration",
                "glue_technical_asset_configurations",
                PLATFORM_AWS,
                SERVICE_GLUE,
                &[
                    ("database", &t("finance_db")),
                    ("database_suffix", &t("raw")),
                    ("table", &t("invoices")),
                    ("bucket_identifier", &t("glue-bucket")),
                    ("database_path", &t("finance/raw")),
                    ("table_path", &t("finance/raw/invoices")),
                    ("access_granularity", "table"),
                ],
            ),
            TechConfig::new(
                "DatabricksTechnicalAssetConfiguration",
                "databricks_technical_asset_configurations",
                PLATFORM_DATABRICKS,
                SERVICE_DATABRICKS,
                &[
                    ("catalog", &t("main")),
                    ("schema", &t("finance")),
                    ("bucket_identifier", &t("dbx-bucket")),
                    ("catalog_path", &t("main/finance")),
                    ("table", &t("ledger")),
                    ("table_path", &t("main/finance/ledger")),
                    ("access_granularity", "schema"),
                ],
            ),
            TechConfig::new(
                "SnowflakeTechnicalAssetConfiguration",
                "snowflake_technical_asset_configurations",
                PLATFORM_SNOWFLAKE,
                SERVICE_SNOWFLAKE,
                &[
                    ("database", &t("ANALYTICS")),
                    ("schema", &t("FINANCE")),
                    ("table", &t("REVENUE")),
                    ("bucket_identifier", &t("sf-stage")),
                    ("database_path", &t("analytics")),
                    ("table_path", &t("analytics/finance/revenue")),
                    ("access_granularity", "table"),
                ],
            ),
            TechConfig::new(
                "RedshiftTechnicalAssetConfiguration",
                "redshift_technical_asset_configurations",
                PLATFORM_AWS,
                SERVICE_REDSHIFT,
                &[
                    ("database", &t("warehouse")),
                    ("schema", &t("finance")),
                    ("table", &t("payments")),
                    ("bucket_identifier", &t("rs-bucket")),
                    ("database_path", &t("warehouse")),
                    ("table_path", &t("warehouse/finance/payments")),
                    ("access_granularity", "schema"),
                ],
            ),
            TechConfig::new(
                "AzureBlobTechnicalAssetConfiguration",
                "azure_blob_technical_asset_configurations",
                PLATFORM_AZURE,
                SERVICE_AZURE_BLOB,
                &[
                    ("domain", &t("finance")),
                    ("container_name", &t("revenue-container")),
                    ("path", &t("exports/daily")),
                ],
            ),
            TechConfig::new(
                "PostgreSQLTechnicalAssetConfiguration",
                "postgresql_technical_asset_configurations",
                PLATFORM_POSTGRESQL,
                SERVICE_POSTGRESQL,
                &[
                    ("database", &t("ops")),
                    ("schema", &t("billing")),
                    ("table", &t("accounts")),
                    ("access_granularity", "table"),
                ],
            ),
            TechConfig::new(
                "OSISemanticModelTechnicalAssetConfiguration",
                "osi_semantic_model_technical_asset_configurations",
                PLATFORM_OSI,
                SERVICE_OSI,
                &[
                    ("model_name", &t("revenue_model")),
                    ("location", &t("s3://models/revenue.yaml")),
                ],
            ),
        ]
    }

    /// A configuration type no portal release has (no per-type table, no row).
    pub fn unknown(ty: &str) -> TechConfig {
        TechConfig {
            configuration_type: ty.into(),
            table: None,
            fields: Vec::new(),
            platform: seed::PLATFORM_AWS,
            service: seed::SERVICE_S3,
        }
    }
}
