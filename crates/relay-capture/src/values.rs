//! Column values of a decoded row as JSON, without losing bytes.
//!
//! pgoutput sends text-format values in the database encoding. Valid UTF-8 becomes a JSON
//! string; anything else is kept as `{"base64": "..."}` so a dead-lettered row can be
//! restored byte for byte.

use base64::Engine;
use pgoutput::ColumnValue;
use serde_json::{json, Map, Value};

/// A column's text value, or `Err` describing why it is not usable text.
pub(crate) fn text(value: Option<&ColumnValue>) -> Result<Option<&str>, &'static str> {
    match value {
        None | Some(ColumnValue::Null) => Ok(None),
        Some(ColumnValue::Text(b)) => std::str::from_utf8(b)
            .map(Some)
            .map_err(|_| "is not valid UTF-8"),
        Some(ColumnValue::UnchangedToast) => Err("is an unchanged TOAST value"),
        Some(ColumnValue::Binary(_)) => Err("arrived in binary format"),
    }
}

/// One value as JSON, preserving invalid UTF-8 as base64.
pub(crate) fn raw_json(value: &ColumnValue) -> Value {
    match value {
        ColumnValue::Null => Value::Null,
        ColumnValue::UnchangedToast => json!({ "unchanged_toast": true }),
        ColumnValue::Text(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b) }),
        },
        ColumnValue::Binary(b) => {
            json!({ "binary_base64": base64::engine::general_purpose::STANDARD.encode(b) })
        }
    }
}

/// A whole row as a JSON object of column name → value.
pub(crate) fn raw_row<'a>(cols: impl Iterator<Item = (&'a str, &'a ColumnValue)>) -> Value {
    let mut map = Map::new();
    for (name, value) in cols {
        map.insert(name.to_string(), raw_json(value));
    }
    Value::Object(map)
}

/// Decode a `bytea` value in `hex` output format (`\x0a0b…`).
pub(crate) fn bytea_hex(s: &str) -> Option<Vec<u8>> {
    let hex = s.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn invalid_utf8_is_kept_as_base64() {
        let v = ColumnValue::Text(Bytes::from_static(b"a\xffb"));
        assert_eq!(raw_json(&v), json!({"base64": "Yf9i"}));
        assert!(text(Some(&v)).is_err());
    }

    #[test]
    fn bytea_hex_decoding() {
        assert_eq!(bytea_hex("\\x00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(bytea_hex("\\x0"), None);
        assert_eq!(bytea_hex("00"), None);
    }
}
