//! `outbox-relay check`: the preflight an operator runs before `run`.

use relay_check::Finding;

use crate::config::Config;
use crate::relay::{check_target, connection_settings};

/// Each configured sink built and probed (nothing is sent): one finding per sink.
pub async fn sink_findings(cfg: &Config) -> Vec<Finding> {
    let mut out = Vec::with_capacity(cfg.sinks.len());
    for s in &cfg.sinks {
        let probed = match s.build().await {
            Ok(sink) => sink.probe().await.map(|p| p.detail),
            Err(e) => Err(e),
        };
        out.push(match probed {
            Ok(detail) => Finding {
                check: "sink",
                ok: true,
                message: format!("sink `{}`: {detail}", s.name()),
                fix: None,
            },
            Err(e) => Finding {
                check: "sink",
                ok: false,
                message: e.to_string(),
                fix: Some(format!(
                    "make the destination of sink `{}` reachable with the configured credentials (see the message)",
                    s.name()
                )),
            },
        });
    }
    out
}

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
