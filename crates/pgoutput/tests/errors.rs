//! Malformed input: each way of being wrong gives its own error, never a panic.

mod support;

use bytes::Bytes;
use pgoutput::{decode, DecodeError};
use support::Wire;

fn err(w: Wire) -> DecodeError {
    decode(&w.bytes()).expect_err("malformed message is rejected")
}

#[test]
fn empty() {
    assert_eq!(decode(&Bytes::new()), Err(DecodeError::Empty));
}

#[test]
fn unknown_tags_including_later_protocol_versions() {
    // 'S'/'E' (stream start/stop, v2), 'P' (prepare, v3), lowercase letters, zero.
    for tag in [b'S', b'E', b'P', b'b', b'x', 0, 0xff] {
        assert_eq!(err(Wire::new(tag)), DecodeError::UnknownTag(tag));
    }
}

#[test]
fn truncated_fixed_fields() {
    assert_eq!(
        err(Wire::new(b'B').u64(1).i64(2).raw(&[0, 0])),
        DecodeError::Truncated {
            what: "Begin xid",
            needed: 4,
            remaining: 2,
        }
    );
    assert_eq!(
        err(Wire::new(b'C')),
        DecodeError::Truncated {
            what: "Commit flags",
            needed: 1,
            remaining: 0,
        }
    );
}

#[test]
fn truncated_value_bytes() {
    let e = err(Wire::new(b'I')
        .u32(1)
        .u8(b'N')
        .columns(1)
        .u8(b't')
        .i32(10)
        .raw(b"abc"));
    assert_eq!(
        e,
        DecodeError::Truncated {
            what: "TupleData text value",
            needed: 10,
            remaining: 3,
        }
    );
    let e = err(Wire::new(b'M').u8(0).u64(1).cstr("p").i32(i32::MAX));
    assert_eq!(
        e,
        DecodeError::Truncated {
            what: "Message content",
            needed: 2_147_483_647,
            remaining: 0,
        }
    );
}

#[test]
fn huge_counts_with_few_bytes_fail_without_allocating_for_the_count() {
    let e = err(Wire::new(b'T').i32(i32::MAX).u8(0).u32(1));
    assert!(matches!(
        e,
        DecodeError::Truncated {
            what: "Truncate relation id",
            ..
        }
    ));
    let e = err(Wire::new(b'I').u32(1).u8(b'N').columns(i16::MAX).null());
    assert!(matches!(
        e,
        DecodeError::Truncated {
            what: "TupleData column kind",
            ..
        }
    ));
    let e = err(Wire::new(b'R')
        .u32(1)
        .cstr("")
        .cstr("t")
        .u8(b'd')
        .i16(i16::MAX));
    assert!(matches!(
        e,
        DecodeError::Truncated {
            what: "Relation column flags",
            ..
        }
    ));
}

#[test]
fn missing_nul() {
    assert_eq!(
        err(Wire::new(b'O').u64(1).raw(b"no terminator")),
        DecodeError::MissingNul {
            what: "Origin name"
        }
    );
    assert_eq!(
        err(Wire::new(b'Y').u32(1).cstr("public").raw(b"typ")),
        DecodeError::MissingNul { what: "Type name" }
    );
}

#[test]
fn invalid_utf8_is_an_error_not_lossy() {
    assert_eq!(
        err(Wire::new(b'Y').u32(1).raw(b"\xff\xfe\0").cstr("t")),
        DecodeError::InvalidUtf8 {
            what: "Type namespace"
        }
    );
    assert_eq!(
        err(Wire::new(b'M').u8(1).u64(1).raw(b"pre\xc3\0").i32(0)),
        DecodeError::InvalidUtf8 {
            what: "Message prefix"
        }
    );
}

#[test]
fn negative_lengths_and_counts() {
    assert_eq!(
        err(Wire::new(b'R').u32(1).cstr("").cstr("t").u8(b'd').i16(-1)),
        DecodeError::InvalidLength {
            what: "Relation column count",
            value: -1,
        }
    );
    assert_eq!(
        err(Wire::new(b'I').u32(1).u8(b'N').columns(i16::MIN)),
        DecodeError::InvalidLength {
            what: "TupleData column count",
            value: -32_768,
        }
    );
    assert_eq!(
        err(Wire::new(b'I').u32(1).u8(b'N').columns(1).u8(b'b').i32(-5)),
        DecodeError::InvalidLength {
            what: "TupleData binary value length",
            value: -5,
        }
    );
    assert_eq!(
        err(Wire::new(b'I').u32(1).u8(b'N').columns(1).u8(b't').i32(-1)),
        DecodeError::InvalidLength {
            what: "TupleData text value length",
            value: -1,
        }
    );
    assert_eq!(
        err(Wire::new(b'M').u8(0).u64(1).cstr("p").i32(i32::MIN)),
        DecodeError::InvalidLength {
            what: "Message content length",
            value: -2_147_483_648,
        }
    );
    assert_eq!(
        err(Wire::new(b'T').i32(-3).u8(0)),
        DecodeError::InvalidLength {
            what: "Truncate relation count",
            value: -3,
        }
    );
}

#[test]
fn unknown_or_misplaced_tuple_markers() {
    // Insert carries only a new tuple.
    assert_eq!(
        err(Wire::new(b'I').u32(1).u8(b'K').columns(0)),
        DecodeError::UnknownTupleKind(b'K')
    );
    // Delete carries a key or an old tuple, never a new one.
    assert_eq!(
        err(Wire::new(b'D').u32(1).u8(b'N').columns(0)),
        DecodeError::UnknownTupleKind(b'N')
    );
    // Update: at most one of K/O, then N.
    assert_eq!(
        err(Wire::new(b'U')
            .u32(1)
            .u8(b'K')
            .columns(0)
            .u8(b'O')
            .columns(0)),
        DecodeError::UnknownTupleKind(b'O')
    );
    assert_eq!(
        err(Wire::new(b'U').u32(1).u8(b'X')),
        DecodeError::UnknownTupleKind(b'X')
    );
    // Update with a key tuple but no new tuple at all.
    assert_eq!(
        err(Wire::new(b'U').u32(1).u8(b'K').columns(0)),
        DecodeError::Truncated {
            what: "Update new tuple marker",
            needed: 1,
            remaining: 0,
        }
    );
}

#[test]
fn unknown_column_kind() {
    assert_eq!(
        err(Wire::new(b'I').u32(1).u8(b'N').columns(2).null().u8(b'x')),
        DecodeError::UnknownColumnKind(b'x')
    );
}

#[test]
fn trailing_bytes_after_a_complete_message() {
    assert_eq!(
        err(Wire::new(b'B').u64(1).i64(2).u32(3).u8(0)),
        DecodeError::TrailingBytes {
            count: 1,
            tag: b'B'
        }
    );
    // A tuple with fewer columns than its count claims is caught as trailing bytes when the
    // count is too small.
    assert_eq!(
        err(Wire::new(b'I').u32(1).u8(b'N').columns(1).null().null()),
        DecodeError::TrailingBytes {
            count: 1,
            tag: b'I'
        }
    );
    assert_eq!(
        err(Wire::new(b'O').u64(1).cstr("a").cstr("b")),
        DecodeError::TrailingBytes {
            count: 2,
            tag: b'O'
        }
    );
}

#[test]
fn display_messages_name_the_problem() {
    let cases = [
        (DecodeError::Empty, "empty pgoutput message: no tag byte"),
        (
            DecodeError::UnknownTag(b'S'),
            "unknown pgoutput message tag 'S' (0x53)",
        ),
        (
            DecodeError::Truncated {
                what: "Begin xid",
                needed: 4,
                remaining: 2,
            },
            "truncated pgoutput message: Begin xid needs 4 bytes, 2 left",
        ),
        (
            DecodeError::MissingNul {
                what: "Origin name",
            },
            "pgoutput Origin name is not NUL-terminated",
        ),
        (
            DecodeError::InvalidUtf8 {
                what: "Relation name",
            },
            "pgoutput Relation name is not valid UTF-8",
        ),
        (
            DecodeError::InvalidLength {
                what: "TupleData column count",
                value: -1,
            },
            "pgoutput TupleData column count is negative: -1",
        ),
        (
            DecodeError::UnknownTupleKind(b'X'),
            "unknown or misplaced pgoutput tuple marker 'X' (0x58)",
        ),
        (
            DecodeError::UnknownColumnKind(0),
            "unknown pgoutput column kind '\\0' (0x00)",
        ),
        (
            DecodeError::TrailingBytes {
                count: 3,
                tag: b'C',
            },
            "3 trailing bytes after a complete pgoutput 'C' message",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.to_string(), expected);
    }
}
