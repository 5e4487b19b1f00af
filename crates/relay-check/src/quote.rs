//! Quoting of identifiers and literals for the fix SQL shown to operators.
//!
//! The checks themselves never build SQL from names (they use query
//! parameters); these functions only make the *suggested* statements correct to
//! copy and paste, whatever the slot, publication, role or table is called.
//! Both follow PostgreSQL's own `quote_ident()` / `quote_literal()`.

/// Keywords that cannot be used as a bare identifier in every position
/// (PostgreSQL's reserved, column-name and type/function-name keywords, i.e.
/// `pg_get_keywords()` rows with `catcode <> 'U'`, PostgreSQL 15, plus those
/// added in 16 and 17). Quoting an identifier that would not strictly need it
/// is harmless, so a few extra entries cost nothing.
const KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes an SQL identifier the way PostgreSQL's `quote_ident()` does: bare
/// when it is a lower-case name that is not a keyword, otherwise in double
/// quotes with embedded double quotes doubled.
///
/// ```
/// use relay_check::quote_ident;
/// assert_eq!(quote_ident("outbox_relay"), "outbox_relay");
/// assert_eq!(quote_ident("Outbox"), "\"Outbox\"");
/// assert_eq!(quote_ident("user"), "\"user\"");
/// assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
/// ```
pub fn quote_ident(ident: &str) -> String {
    let mut chars = ident.chars();
    let plain = match chars.next() {
        Some(first) => {
            (first.is_ascii_lowercase() || first == '_')
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && KEYWORDS.binary_search(&ident).is_err()
        }
        None => false,
    };
    if plain {
        ident.to_owned()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// Quotes a string literal the way PostgreSQL's `quote_literal()` does: single
/// quotes doubled; a value containing a backslash becomes an `E'...'` literal
/// with the backslashes doubled, so it means the same whatever
/// `standard_conforming_strings` is.
///
/// ```
/// use relay_check::quote_literal;
/// assert_eq!(quote_literal("outbox_relay"), "'outbox_relay'");
/// assert_eq!(quote_literal("it's"), "'it''s'");
/// assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
/// ```
pub fn quote_literal(value: &str) -> String {
    let escaped = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", escaped.replace('\\', "\\\\"))
    } else {
        format!("'{escaped}'")
    }
}

/// `schema.table`, each part quoted as needed.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_list_is_sorted_for_binary_search() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn identifiers() {
        assert_eq!(quote_ident("events"), "events");
        assert_eq!(quote_ident("_x9"), "_x9");
        assert_eq!(quote_ident("9x"), "\"9x\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("with space"), "\"with space\"");
        assert_eq!(quote_ident("dollar$"), "\"dollar$\"");
        assert_eq!(quote_ident("é"), "\"é\"");
        assert_eq!(quote_ident("table"), "\"table\"");
        // unreserved keywords need no quotes, as in PostgreSQL
        assert_eq!(quote_ident("publication"), "publication");
    }

    #[test]
    fn literals() {
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("''"), "''''''");
        assert_eq!(quote_literal(r"\'"), r"E'\\'''");
    }

    #[test]
    fn qualified() {
        assert_eq!(quote_qualified("public", "events"), "public.events");
        assert_eq!(quote_qualified("App", "order"), "\"App\".\"order\"");
    }
}
