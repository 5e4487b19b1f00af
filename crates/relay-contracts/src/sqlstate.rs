//! The SQLSTATE table: which PostgreSQL error codes are worth retrying.
//!
//! The replication client (`pgwire-replication`) reports server errors as text with the
//! code in `(SQLSTATE xxxxx)`; `tokio-postgres` gives the code typed. Both end here.

use crate::ErrorClass;

/// The class of a SQLSTATE (five characters, e.g. `57014`).
///
/// Retry: connection exceptions (08), insufficient resources (53), operator
/// intervention (57: shutdown, cancelled by `statement_timeout`), transaction rollback
/// (40: serialization failure, deadlock), object in use / lock not available (55006,
/// 55P03), system errors (58) and internal errors (XX).
/// Fatal: authorization (28), invalid database (3D), syntax or access rule (42: missing
/// table, column, object or privilege), feature not supported (0A), prerequisite state
/// (55000: e.g. `wal_level`, an invalidated slot), data exceptions (22), invalid
/// parameters (22023 included) and configuration file errors (F0).
/// Anything else: retry (the backoff is capped; an operator sees the repeated line).
pub fn class(code: &str) -> ErrorClass {
    match code {
        "55006" | "55P03" => return ErrorClass::Retry,
        "55000" => return ErrorClass::Fatal,
        _ => {}
    }
    match code.get(..2).unwrap_or("") {
        "08" | "53" | "57" | "40" | "58" | "XX" => ErrorClass::Retry,
        "28" | "3D" | "42" | "0A" | "22" | "F0" | "55" => ErrorClass::Fatal,
        _ => ErrorClass::Retry,
    }
}

/// The SQLSTATE in an error message of the form `… (SQLSTATE 42704)`, as
/// `pgwire-replication` formats server errors.
pub fn from_message(text: &str) -> Option<&str> {
    let (_, tail) = text.rsplit_once("(SQLSTATE ")?;
    let code = tail.split(')').next()?;
    (code.len() == 5 && code.chars().all(|c| c.is_ascii_alphanumeric())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        for c in [
            "08006", "53300", "57P01", "57014", "40001", "40P01", "55P03", "55006", "XX000",
        ] {
            assert_eq!(class(c), ErrorClass::Retry, "{c}");
        }
        for c in [
            "28P01", "28000", "3D000", "42P01", "42703", "42501", "42704", "0A000", "55000",
        ] {
            assert_eq!(class(c), ErrorClass::Fatal, "{c}");
        }
    }

    #[test]
    fn codes_from_messages() {
        assert_eq!(
            from_message("ERROR: replication slot \"x\" does not exist (SQLSTATE 42704)"),
            Some("42704")
        );
        assert_eq!(from_message("no code here"), None);
        assert_eq!(from_message("(SQLSTATE 4270)"), None);
    }
}
