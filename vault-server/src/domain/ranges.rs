//! What a `Range` request header asks of a stored object (RFC 9110 §14).
//!
//! Parsing is `http-range-header`'s (the parser tower-http serves files with); the
//! rules around it are RFC 9110's: a unit other than `bytes` is ignored (the whole
//! object, 200), a suffix longer than the object means the whole object, and one
//! range is served (several would need `multipart/byteranges`, which is not offered:
//! the header is then ignored, as §14.2 allows).

use std::ops::Range;

/// The answer to a request's `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// No range asked, or one the server ignores: send the whole object (200).
    Whole,
    /// Send these bytes (206).
    Part(Range<u64>),
    /// A `bytes` range that selects nothing in the object (416).
    Unsatisfiable,
}

/// Interprets a `Range` header value against an object of `size` bytes.
pub(crate) fn interpret(header: Option<&str>, size: u64) -> Ranged {
    use http_range_header::{StartPosition, parse_range_header};
    let Some((unit, set)) = header.and_then(|h| h.split_once('=')) else { return Ranged::Whole };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranged::Whole;
    }
    let Ok(mut parsed) = parse_range_header(&format!("bytes={set}")) else { return Ranged::Unsatisfiable };
    if parsed.ranges.len() != 1 {
        return Ranged::Whole;
    }
    for range in &mut parsed.ranges {
        if let StartPosition::FromLast(n) = range.start {
            // "the last N bytes" of a shorter object is all of it (§14.1.2).
            range.start = StartPosition::FromLast(n.min(size));
        }
    }
    if size == 0 {
        return Ranged::Unsatisfiable;
    }
    match parsed.validate(size).as_deref() {
        Ok([only]) if only.start() <= only.end() && *only.start() < size => {
            Ranged::Part(*only.start()..only.end().saturating_add(1))
        }
        _ => Ranged::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::{Ranged, interpret};

    fn part(r: std::ops::Range<u64>) -> Ranged {
        Ranged::Part(r)
    }

    #[test]
    fn rfc_9110_ranges() {
        let at = |h: &str| interpret(Some(h), 10);
        assert_eq!(at("bytes=0-0"), part(0..1));
        assert_eq!(at("bytes=2-"), part(2..10));
        assert_eq!(at("bytes=1-"), part(1..10));
        assert_eq!(at("bytes=-3"), part(7..10));
        assert_eq!(at("bytes=-30"), part(0..10), "a suffix longer than the object is all of it");
        assert_eq!(at("bytes=5-100"), part(5..10));
        assert_eq!(at("Bytes=0-4"), part(0..5), "the unit is case-insensitive");
        assert_eq!(at("bytes=0-18446744073709551615"), part(0..10), "no overflow at u64::MAX");
        assert_eq!(at("bytes=9-18446744073709551615"), part(9..10));
        assert_eq!(at("bytes=10-"), Ranged::Unsatisfiable);
        assert_eq!(at("bytes=3-2"), Ranged::Unsatisfiable);
        assert_eq!(at("bytes=-0"), Ranged::Unsatisfiable);
        assert_eq!(at("bytes=abc"), Ranged::Unsatisfiable);
        assert_eq!(at("items=0-5"), Ranged::Whole, "an unknown unit is ignored");
        assert_eq!(at("bytes=0-1,3-4"), Ranged::Whole, "several ranges: ignored, not multipart");
        assert_eq!(at("garbage"), Ranged::Whole);
        assert_eq!(interpret(None, 10), Ranged::Whole);
        assert_eq!(interpret(Some("bytes=0-"), 0), Ranged::Unsatisfiable);
    }
}
