//! Formatting helpers for the CloudEvents envelope: LSNs and commit times.

use std::time::{Duration, UNIX_EPOCH};

/// Seconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

/// An LSN in PostgreSQL's text form, e.g. `0/16B3748`.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// A PostgreSQL timestamp (µs since 2000-01-01 UTC) as RFC 3339 with microseconds.
pub fn pg_micros_to_rfc3339(micros: i64) -> String {
    let unix_micros = i128::from(micros) + i128::from(PG_EPOCH_UNIX_SECS) * 1_000_000;
    let t = if unix_micros >= 0 {
        let us = u64::try_from(unix_micros).unwrap_or(u64::MAX);
        UNIX_EPOCH.checked_add(Duration::from_micros(us))
    } else {
        None
    };
    match t {
        Some(t) => humantime::format_rfc3339_micros(t).to_string(),
        None => "1970-01-01T00:00:00.000000Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_form() {
        assert_eq!(format_lsn(0x0000_0001_0000_00AB), "1/AB");
        assert_eq!(format_lsn(0x16B3748), "0/16B3748");
    }

    #[test]
    fn commit_time_rfc3339() {
        assert_eq!(pg_micros_to_rfc3339(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(
            pg_micros_to_rfc3339(1_500_000),
            "2000-01-01T00:00:01.500000Z"
        );
    }
}
