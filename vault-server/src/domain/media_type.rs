//! The media types a recording may be stored under.
//!
//! The page's Service Worker answers `/media/<id>` on Vault's own origin with the
//! decrypted bytes under the stored type. A type a browser executes or renders as a
//! document (HTML, SVG, XML, JavaScript…) would let the member who uploaded it run
//! script as whoever opens the link. So only what a family vault needs is kept
//! (audio, video, raster images, plain text, PDF); anything else is stored as
//! `application/octet-stream`, which browsers only download.

/// What every other type becomes.
pub(crate) const OPAQUE: &str = "application/octet-stream";

/// Image types browsers decode as pixels only (SVG is a document and is not here).
const RASTER_IMAGES: [&str; 9] = ["jpeg", "png", "gif", "webp", "avif", "heic", "heif", "bmp", "tiff"];

/// The type to store for a requested one, lowercase and without parameters; None if
/// the request is not a media type at all (empty, too long, control characters).
pub(crate) fn stored(requested: &str) -> Option<String> {
    let requested = requested.trim();
    if requested.is_empty() || requested.len() > 127 || requested.chars().any(|c| c.is_control()) {
        return None;
    }
    let essence = requested.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else { return Some(OPAQUE.into()) };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    if !token(kind) || !token(subtype) {
        return Some(OPAQUE.into());
    }
    let keep = match kind {
        "audio" | "video" => true,
        "image" => RASTER_IMAGES.contains(&subtype),
        "text" => subtype == "plain",
        "application" => subtype == "pdf" || subtype == "octet-stream",
        _ => false,
    };
    Some(if keep { essence } else { OPAQUE.into() })
}

#[cfg(test)]
mod tests {
    use super::stored;

    #[test]
    fn active_types_become_opaque() {
        for (asked, kept) in [
            ("video/mp4", "video/mp4"),
            ("Video/QuickTime; codecs=\"hvc1\"", "video/quicktime"),
            ("audio/wav", "audio/wav"),
            ("image/jpeg", "image/jpeg"),
            ("image/heic", "image/heic"),
            ("text/plain; charset=utf-8", "text/plain"),
            ("application/pdf", "application/pdf"),
            ("text/html", "application/octet-stream"),
            ("TEXT/HTML; charset=utf-8", "application/octet-stream"),
            ("image/svg+xml", "application/octet-stream"),
            ("application/xhtml+xml", "application/octet-stream"),
            ("text/xml", "application/octet-stream"),
            ("application/javascript", "application/octet-stream"),
            ("multipart/x-mixed-replace", "application/octet-stream"),
            ("video", "application/octet-stream"),
            ("video/mp4 <script>", "application/octet-stream"),
        ] {
            assert_eq!(stored(asked).as_deref(), Some(kept), "{asked}");
        }
        assert_eq!(stored(""), None);
        assert_eq!(stored("video/mp4\r\nx: y"), None);
        assert_eq!(stored(&"a".repeat(200)), None);
    }
}
