//! Times in the envelope: commit times (PostgreSQL microseconds) and "now", as RFC 3339.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

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

/// Time since a PostgreSQL timestamp (µs since 2000-01-01 UTC): `None` when it is unknown
/// (0) or in the future (clocks of two hosts).
pub fn since_pg_micros(micros: i64) -> Option<Duration> {
    if micros == 0 {
        return None;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let now = i64::try_from(now.as_micros()).ok()?;
    let pg_epoch = i64::try_from(PG_EPOCH_UNIX_SECS).ok()? * 1_000_000;
    u64::try_from(now - (micros + pg_epoch))
        .ok()
        .map(Duration::from_micros)
}

/// The current time in RFC 3339 with microseconds (for `enrichedat`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_time_rfc3339() {
        assert_eq!(pg_micros_to_rfc3339(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(
            pg_micros_to_rfc3339(1_500_000),
            "2000-01-01T00:00:01.500000Z"
        );
    }
}
