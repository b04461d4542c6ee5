//! Names and identifiers people read: nothing invisible, nothing that reorders text.
//!
//! A member called `alice\u{202E}nimda` shows as "aliceadmin" reversed in part; a
//! zero-width space makes two ids that look the same. In the members list and the
//! audit log that is spoofing. So names and ids refuse control and format characters
//! (bidirectional overrides and isolates, zero-width characters), line and paragraph
//! separators, private-use and unassigned code points, and the characters that draw
//! as blanks; ids also refuse every space.

use unicode_properties::{GeneralCategory as Gc, UnicodeEmoji, UnicodeGeneralCategory};

/// Characters of other categories that render as nothing or as a blank.
const INVISIBLE: [char; 6] = ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{2800}', '\u{180E}'];

/// Whether `c` would deceive a reader of a name (an ordinary space does not).
fn deceptive(c: char) -> bool {
    matches!(
        c.general_category(),
        Gc::Control
            | Gc::Format
            | Gc::LineSeparator
            | Gc::ParagraphSeparator
            | Gc::PrivateUse
            | Gc::Surrogate
            | Gc::Unassigned
    ) || (c.general_category() == Gc::SpaceSeparator && c != ' ')
        || INVISIBLE.contains(&c)
}

/// Whether `s` holds a deceptive character. The zero-width joiner is one, except
/// inside an emoji sequence (👩‍👧, 🏃‍♀️), where it joins two pictures into one.
fn has_deceptive(s: &str) -> bool {
    let emoji = |c: Option<char>, component: bool| {
        c.is_some_and(|c| c > '\u{FF}' && (c.is_emoji_char() || (component && c.is_emoji_char_or_emoji_component())))
    };
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        let joins_emoji = c == '\u{200D}'
            && emoji(i.checked_sub(1).map(|p| chars[p]), true)
            && emoji(chars.get(i + 1).copied(), false);
        deceptive(c) && !joins_emoji
    })
}

/// A name or title: 1 to `max` characters, something visible, nothing deceptive.
pub(crate) fn is_visible_text(s: &str, max: usize) -> bool {
    let count = s.chars().count();
    (1..=max).contains(&count) && !s.trim().is_empty() && !has_deceptive(s)
}

/// A tenant or instance id (a family's, a studio's, an instance's): 1 to 64 characters
/// of `[A-Za-z0-9_-]`, starting with a letter or digit, so that it is safe in object
/// keys and logs and can never be the system audit chain's tenant (`-`).
pub(crate) fn is_plain_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An identifier (a token's subject, an invited user id): 1 to 255 bytes, no spaces,
/// nothing deceptive.
pub(crate) fn is_visible_id(s: &str) -> bool {
    (1..=255).contains(&s.len()) && !s.contains(' ') && !has_deceptive(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofing_characters_are_refused() {
        for ok in [
            "Grandpa Joe",
            "Émilie",
            "山田 花子",
            "user_2abc",
            "O'Brien-Smith",
            "👶 first scan",
            "👩\u{200D}👧 at the beach",
            "🏃\u{200D}♀\u{FE0F} run",
            "❤\u{FE0F}\u{200D}🔥",
        ] {
            assert!(is_visible_text(ok, 300), "{ok}");
        }
        for bad in [
            "alice\u{202E}nimda",   // right-to-left override
            "bob\u{2066}x\u{2069}", // isolates
            "eve\u{200B}",          // zero-width space
            "mal\u{200D}lory",      // zero-width joiner outside an emoji sequence
            "1\u{200D}2",
            "x\u{FEFF}", // byte-order mark
            "soft\u{00AD}hyphen",
            "tab\there",
            "line\u{2028}sep",
            "nb\u{00A0}space",
            "\u{3164}",
            "private\u{E000}",
            "   ",
            "",
        ] {
            assert!(!is_visible_text(bad, 300), "{bad:?}");
            assert!(!is_visible_id(bad), "{bad:?}");
        }
        assert!(is_visible_id("user_2abc"));
        assert!(is_visible_id("alice@example.com"));
        assert!(!is_visible_id("a b"));
        assert!(!is_visible_text(&"x".repeat(301), 300));
    }
}
