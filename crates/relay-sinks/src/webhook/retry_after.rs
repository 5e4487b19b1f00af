//! `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date. Dates are parsed by
//! `httpdate` (hyper's own date crate: IMF-fixdate, RFC 850 and asctime, as RFC 9110
//! requires recipients to accept).

use std::time::{Duration, SystemTime};

/// How long the receiver asked us to wait, at most `max`. `None` when the value is absent
/// or unparsable (the lane's backoff alone then decides); a date in the past is zero.
pub fn parse(value: &str, now: SystemTime, max: Duration) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let wait = if v.bytes().all(|b| b.is_ascii_digit()) {
        // An absurdly large number saturates instead of failing.
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(v).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    #[test]
    fn seconds_dates_and_caps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse("7", now, MAX), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 ", now, MAX), Some(Duration::ZERO));
        assert_eq!(parse("99999999999999999999999", now, MAX), Some(MAX));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:49:47 GMT", now, MAX),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse("Sunday, 06-Nov-94 08:49:40 GMT", now, MAX),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse("Sun Nov  6 08:49:38 1994", now, MAX),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:00:00 GMT", now, MAX),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("Fri, 31 Dec 9999 23:59:59 GMT", now, MAX), Some(MAX));
        for bad in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994 08:49:47 CET"] {
            assert_eq!(parse(bad, now, MAX), None, "{bad:?}");
        }
    }
}
