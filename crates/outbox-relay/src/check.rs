//! `outbox-relay check`: the preflight an operator runs before `run`: the database
//! (relay-check), then every configured sink, built as `run` builds it and asked for its
//! side-effect-free `probe()`.

use relay_check::Finding;
use std::time::Duration;

use crate::config::Config;
use crate::relay::{check_target, connection_settings};

/// Run every check; print one line per finding; `Ok(true)` when all passed.
pub async fn run(cfg: &Config) -> anyhow::Result<bool> {
    let conn = connection_settings(cfg)?;
    relay_sinks::install_crypto_provider();
    let mut findings = match conn.connect_query().await {
        Ok(client) => relay_check::run(&client, &check_target(cfg)).await?,
        Err(e) => vec![Finding {
            check: "connect",
            ok: false,
            message: format!("cannot connect to {}: {}", conn.display(), error_chain(&e)),
            fix: Some("check source.url (host, port, user, database) and the password".into()),
        }],
    };
    findings.extend(sink_findings(cfg).await);
    println!("{}", relay_check::render(&findings).trim_end());
    Ok(findings.iter().all(|f| f.ok))
}

/// How long building and probing one sink may take before it counts as failed.
const SINK_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// One finding per sink, for `check` and `status`: built the way `run` builds it
/// (connect, verify the stream or queue), then probed; nothing is sent. Building may do
/// what `run` does at start: open the file sink's file, create a NATS stream with
/// `create_stream = true`.
pub async fn sink_findings(cfg: &Config) -> Vec<Finding> {
    let mut findings = Vec::with_capacity(cfg.sinks.len());
    for sink in &cfg.sinks {
        let name = sink.name().to_string();
        let checked = tokio::time::timeout(SINK_CHECK_TIMEOUT, async {
            let built = sink.build().await?;
            built.probe().await
        })
        .await;
        findings.push(match checked {
            Ok(Ok(probe)) => Finding {
                check: "sink",
                ok: true,
                message: format!("sink `{name}`: {}", probe.detail),
                fix: None,
            },
            Ok(Err(e)) => Finding {
                check: "sink",
                ok: false,
                message: e.to_string(),
                fix: Some(format!(
                    "make the destination of sink `{name}` reachable with the configured credentials (see the message)"
                )),
            },
            Err(_) => Finding {
                check: "sink",
                ok: false,
                message: format!(
                    "sink `{name}`: no answer within {}s",
                    SINK_CHECK_TIMEOUT.as_secs()
                ),
                fix: Some("is the destination reachable from here?".into()),
            },
        });
    }
    findings
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}
