//! Month names as `strftime("%b")` prints them in the locales seen in real logs.
//!
//! `dmesg -T` formats with the user's locale (util-linux `strftime(…"%a %b %e %H:%M:%S %Y")`),
//! and journalctl's short format localizes the month too on some distributions
//! (`jun 20 03:23:46` under pt_BR). The table holds glibc's abbreviations; matching is
//! case-insensitive and ignores a trailing dot (`janv.` in fr, `Jan.` in some de builds).

/// Abbreviated month names per locale, January first.
const MONTHS: &[[&str; 12]] = &[
    [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    // pt_BR, es (also "set" for September in pt)
    [
        "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez",
    ],
    [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
    ],
    // de
    [
        "jan", "feb", "mär", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "dez",
    ],
    // fr
    [
        "janv", "févr", "mars", "avril", "mai", "juin", "juil", "août", "sept", "oct", "nov", "déc",
    ],
    // it
    [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ],
    // ru (glibc 2.26+: genitive abbreviations)
    [
        "янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек",
    ],
    // ru (nominative forms used by older glibc and journald builds)
    [
        "янв", "февр", "март", "апр", "май", "июнь", "июль", "авг", "сент", "окт", "нояб", "дек",
    ],
    // pl
    [
        "sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru",
    ],
    // nl
    [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ],
    // tr
    [
        "oca", "şub", "mar", "nis", "may", "haz", "tem", "ağu", "eyl", "eki", "kas", "ara",
    ],
];

/// The month number (1–12) of a month abbreviation in any supported locale.
///
/// CJK locales print the number followed by 月 (zh, ja) or 월 (ko): `9月`.
pub fn month_number(name: &str) -> Option<u8> {
    let name = name.trim_end_matches('.');
    if let Some(num) = name.strip_suffix('月').or_else(|| name.strip_suffix('월')) {
        return num.parse::<u8>().ok().filter(|m| (1..=12).contains(m));
    }
    if name.is_empty() || name.len() > 16 {
        return None;
    }
    let lower = name.to_lowercase();
    for table in MONTHS {
        for (i, m) in table.iter().enumerate() {
            if lower == *m {
                return Some(i as u8 + 1);
            }
        }
    }
    // Full names and longer forms ("June", "Juni", "июня"): accept a 3-letter prefix match
    // of the English and Romance tables only, where prefixes are unambiguous.
    if lower.chars().count() > 3 {
        let prefix: String = lower.chars().take(3).collect();
        for table in &MONTHS[..4] {
            if let Some(i) = table.iter().position(|m| *m == prefix) {
                return Some(i as u8 + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::month_number;

    #[test]
    fn months_in_many_locales() {
        assert_eq!(month_number("Jan"), Some(1));
        assert_eq!(month_number("jun"), Some(6));
        assert_eq!(month_number("9月"), Some(9));
        assert_eq!(month_number("12월"), Some(12));
        assert_eq!(month_number("окт"), Some(10));
        assert_eq!(month_number("мая"), Some(5));
        assert_eq!(month_number("févr."), Some(2));
        assert_eq!(month_number("Dez"), Some(12));
        assert_eq!(month_number("June"), Some(6));
        assert_eq!(month_number("13月"), None);
        assert_eq!(month_number("kernel"), None);
        assert_eq!(month_number(""), None);
    }
}
