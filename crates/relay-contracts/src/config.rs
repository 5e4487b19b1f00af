//! Serde helpers shared by every configuration section (the binary's and each sink's):
//! one "one or many" list, one duration format, one secret wrapper.

use serde::de::{self, IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A value or a list of values: `url = "nats://a"` or `url = ["nats://a", "nats://b"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        self.0.clone()
    }
}

impl<T> From<T> for OneOrMany<T> {
    fn from(v: T) -> Self {
        OneOrMany(vec![v])
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(v: Vec<T>) -> Self {
        OneOrMany(v)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// `#[serde(with = "relay_contracts::config::duration")]`: "500ms", "10s", "2m".
pub mod duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(default, with = "relay_contracts::config::optional_duration")]`.
pub mod optional_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| super::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Parse a duration like "500ms" or "10s", with a message that shows the expected form.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like \"500ms\" or \"10s\": {e}"))
}

/// A secret from the configuration: never printed by `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; hand it to the client, never to a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

/// Percent-decode a URL component (user, password, path) with one rule for every URL in
/// the configuration: each `%` must start a `%XX` escape, else the text is refused;
/// the bytes must be UTF-8. Decoding itself is `percent-encoding`'s.
pub fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(format!("invalid percent-escape at byte {i}"));
            }
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "percent-escapes that are not UTF-8".to_string())
}

/// The default duration helpers return, for `#[serde(default = …)]` call sites.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        v: OneOrMany<String>,
        #[serde(with = "duration")]
        d: Duration,
        s: Secret,
    }

    #[test]
    fn one_or_many_durations_secrets() {
        let t: T = serde_json::from_str(r#"{"v":"a","d":"250ms","s":"pw"}"#).unwrap();
        assert_eq!(t.v.to_vec(), vec!["a".to_string()]);
        assert_eq!(t.d, Duration::from_millis(250));
        assert_eq!(format!("{:?}", t.s), "Secret(***)");
        let t: T = serde_json::from_str(r#"{"v":["a","b"],"d":"2s","s":"x"}"#).unwrap();
        assert_eq!(t.v.0.len(), 2);
        let e = serde_json::from_str::<T>(r#"{"v":"a","d":"soon","s":"x"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a duration"), "{e}");
    }

    #[test]
    fn percent_decoding_rejects_bad_escapes() {
        assert_eq!(percent_decode("p%40ss%2Fw0rd").unwrap(), "p@ss/w0rd");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("a%4").is_err());
        assert!(percent_decode("%ff").is_err(), "not UTF-8");
    }
}
