//! Quoting of identifiers and literals for the fix SQL shown to operators, by
//! `postgres-protocol`'s escape functions (libpq's `PQescapeIdentifier` /
//! `PQescapeLiteral`): identifiers are always double-quoted, so no keyword list has to
//! follow each PostgreSQL release.
//!
//! The checks themselves never build SQL from names (they use query parameters); these
//! functions only make the *suggested* statements correct to copy and paste, whatever
//! the slot, publication, role or table is called.

use postgres_protocol::escape::{escape_identifier, escape_literal};

/// An identifier in double quotes, embedded double quotes doubled.
///
/// ```
/// use relay_check::quote_ident;
/// assert_eq!(quote_ident("outbox_relay"), "\"outbox_relay\"");
/// assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
/// ```
pub fn quote_ident(ident: &str) -> String {
    escape_identifier(ident)
}

/// A string literal: single quotes doubled; with a backslash, an `E'...'` literal with
/// the backslashes doubled, so it means the same whatever `standard_conforming_strings`
/// is.
///
/// ```
/// use relay_check::quote_literal;
/// assert_eq!(quote_literal("it's"), "'it''s'");
/// assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
/// ```
pub fn quote_literal(value: &str) -> String {
    // libpq's form starts with a space before `E'`, for pasting after an identifier.
    escape_literal(value).trim_start().to_string()
}

/// `schema.table`, each part quoted.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}
