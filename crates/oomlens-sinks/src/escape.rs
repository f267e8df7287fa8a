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

fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain (comm)"), "plain (comm)");
        assert_eq!(escape("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("tab\there"), "tab\\x09here");
        assert_eq!(escape("\u{9b}x"), "\\xc2\\x9bx");
        assert_eq!(escape("bidi\u{202e}"), "bidi\\xe2\\x80\\xae");
    }
}
