//! One line per finding, for the terminal.

use crate::Finding;

/// One line per finding:
/// `ok   wal_level: logical` or
/// `FAIL slot: replication slot "x" does not exist — fix: SELECT ...;`.
/// Line breaks inside messages or fixes are folded so each finding stays on
/// one line. Findings never contain connection strings or passwords.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(if f.ok { "ok  " } else { "FAIL" });
        out.push(' ');
        out.push_str(f.check);
        out.push_str(": ");
        out.push_str(&one_line(&f.message));
        if let (false, Some(fix)) = (f.ok, &f.fix) {
            out.push_str(" — fix: ");
            out.push_str(&one_line(fix));
        }
        out.push('\n');
    }
    out
}

/// A name in a message: always in double quotes, like PostgreSQL's own messages.
pub(crate) fn dq(name: &str) -> String {
    format!("\"{name}\"")
}

pub(crate) fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r']) {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        s.to_owned()
    }
}
