//! Log sequence numbers: `u64` on the wire and in the tracker, PostgreSQL's `X/X` text
//! form in logs, envelopes and dead letters (formatting and parsing by `postgres-types`).

use postgres_types::PgLsn;
use std::fmt;
use std::str::FromStr;

/// A position in the WAL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&PgLsn::from(self.0), f)
    }
}

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<PgLsn>()
            .map(|l| Lsn(l.into()))
            .map_err(|_| format!("`{s}` is not an LSN like 0/16B3748"))
    }
}

impl From<u64> for Lsn {
    fn from(v: u64) -> Self {
        Lsn(v)
    }
}

/// An LSN in PostgreSQL's text form, e.g. `0/16B3748`.
pub fn format_lsn(lsn: u64) -> String {
    Lsn(lsn).to_string()
}

/// Parse PostgreSQL's text form of an LSN.
pub fn parse_lsn(s: &str) -> Option<u64> {
    s.parse::<Lsn>().ok().map(|l| l.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_form() {
        assert_eq!(format_lsn(0x0000_0001_0000_00AB), "1/AB");
        assert_eq!(format_lsn(0x16B3748), "0/16B3748");
        assert_eq!(parse_lsn("1/AB"), Some(0x0000_0001_0000_00AB));
        assert_eq!(parse_lsn("nope"), None);
    }
}
