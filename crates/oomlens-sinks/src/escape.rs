//! Make untrusted text safe for a terminal.
//!
//! comm names, cgroup paths and log lines come from other users' processes: a comm can hold
//! an escape sequence that rewrites the operator's screen. Every control character (C0, DEL,
//! C1) is written as `\xNN`, the same form /dev/kmsg uses, so text escaped by the kernel and
//! text escaped here read alike.

use std::borrow::Cow;

/// `s` with every control character replaced by `\xNN`.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` for HTML text or a quoted attribute: control characters as [`escape`] writes them,
/// then `&`, `<`, `>`, `"` and `'` as character references.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in escape(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_html};

    #[test]
    fn html_specials_and_control_characters_are_escaped() {
        assert_eq!(
            escape_html("<script>a&b\"c'\x1b"),
            "&lt;script&gt;a&amp;b&quot;c&#39;\\x1b"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain (comm)"), "plain (comm)");
        assert_eq!(escape("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("tab\there"), "tab\\x09here");
        assert_eq!(escape("\u{9b}x"), "\\xc2\\x9bx");
        assert_eq!(escape("bidi\u{202e}"), "bidi\\xe2\\x80\\xae");
    }
}
