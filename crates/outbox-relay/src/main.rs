//! `outbox-relay`: the command line. See README.md.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use outbox_relay::{config::Config, relay, Relay};

#[derive(Parser)]
#[command(
    name = "outbox-relay",
    version,
    about = "Turns the portal's audit rows into delivered events, through a logical replication slot"
)]
struct Cli {
    /// Log lines for people (`human`, the default) or one JSON object per line (`json`);
    /// overrides `[log] format`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Stream the slot and deliver events until SIGINT/SIGTERM.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Verify wal_level, slot, publication and privileges; print the fix for each problem.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Slot, lag, publications, sinks and dead letters; non-zero exit when something needs action.
    Status {
        #[arg(long, short)]
        config: PathBuf,
        /// One JSON document, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print the portal event catalog for consumers: AsyncAPI 3.0, JSON Schemas or Markdown.
    Catalog {
        #[arg(long, value_enum, default_value_t = CatalogFormat::Markdown)]
        format: CatalogFormat,
    },
    /// Start a throwaway PostgreSQL, perform a few portal actions and show the events.
    Demo {
        /// Exit after showing the events instead of waiting for Ctrl-C.
        #[arg(long)]
        once: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CatalogFormat {
    /// The AsyncAPI 3.0 document (JSON).
    Asyncapi,
    /// One JSON Schema per event type, as a JSON object keyed by type.
    Jsonschema,
    /// The catalog page with an example per event.
    Markdown,
}

fn print_catalog(format: CatalogFormat) -> anyhow::Result<()> {
    use relay_catalog_docs as schema;
    let text = match format {
        CatalogFormat::Asyncapi => serde_json::to_string_pretty(&schema::asyncapi())?,
        CatalogFormat::Jsonschema => {
            let all: serde_json::Map<String, serde_json::Value> =
                schema::jsonschemas().into_iter().collect();
            serde_json::to_string_pretty(&all)?
        }
        CatalogFormat::Markdown => schema::markdown(),
    };
    println!("{}", text.trim_end());
    Ok(())
}

fn main() -> ExitCode {
    relay_sinks::install_crypto_provider();
    let cli = Cli::parse();
    // The format: the flag, else the config's [log] format, else human.
    let json_logs = match cli.log_format {
        Some(LogFormatArg::Json) => true,
        Some(LogFormatArg::Human) => false,
        None => config_path(&cli.command)
            .and_then(|p| Config::load(p).ok())
            .is_some_and(|c| c.log.format == outbox_relay::config::LogFormat::Json),
    };
    init_tracing(json_logs);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Run { config } => {
                let cfg = Config::load(&config)?;
                let relay = Relay::from_config(&cfg).await?;
                if let Some(m) = &cfg.metrics {
                    relay.serve_metrics(&m.listen).await?;
                }
                relay.run(relay::shutdown_on_signals()).await?;
                Ok(true)
            }
            Command::Status { config, json } => {
                let cfg = Config::load(&config)?;
                outbox_relay::status::run(&cfg, json).await
            }
            Command::Check { config } => {
                let cfg = Config::load(&config)?;
                outbox_relay::check::run(&cfg).await
            }
            Command::Catalog { format } => print_catalog(format).map(|()| true),
            Command::Demo { once } => outbox_relay::demo::run(once).await.map(|()| true),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_path(c: &Command) -> Option<&PathBuf> {
    match c {
        Command::Run { config } | Command::Check { config } | Command::Status { config, .. } => {
            Some(config)
        }
        _ => None,
    }
}

/// Logs go to stderr (stdout carries events for the stdout sink and command output).
fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // The Azure SDK logs every failed HTTP response at info; the sink logs the
        // classified reason itself.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,typespec_client_core=warn,azure_core=warn")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
