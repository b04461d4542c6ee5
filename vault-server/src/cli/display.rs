//! How the command line shows sizes and times to people (JSON output keeps the raw
//! numbers).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Bytes in the largest binary unit that keeps a whole number in front: `3.5 MiB`.
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Unix milliseconds as an RFC 3339 time in UTC, to the second: `2026-11-30T12:00:00Z`.
pub(super) fn when(unix_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_for_people() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(200 << 20), "200.0 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(when(1_764_504_000_123), "2025-11-30T12:00:00Z");
        assert_eq!(when(0), "1970-01-01T00:00:00Z");
    }
}
