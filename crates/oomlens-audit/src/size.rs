//! Number parsers, each written after the program that reads the value, so that a setting
//! means here what it means to that program:
//!
//! | function | grammar of | source |
//! |---|---|---|
//! | [`parse_systemd_size`] | `MemoryMax=1.5G`, `512M 256K` | systemd `parse_size()` (`src/basic/parse-util.c`), base 1024 |
//! | [`parse_memory_limit`] | `MemoryMax=` also `infinity`, `50%`, `12.5‰`, `1‱` | systemd `config_parse_memory_limit()` (`src/core/load-fragment.c`) |
//! | [`parse_timespan`] | `RestartSec=`, `RuntimeMaxSec=`: `5min 20s`, `1.5h`, `infinity` | systemd `parse_time()` (`src/basic/time-util.c`) |
//! | [`parse_quantity`] | Kubernetes `512Mi`, `1G`, `1e9`, `0.5Gi`, `100m` | `ParseQuantity()` (`k8s.io/apimachinery/pkg/api/resource/quantity.go`, `suffix.go`) |
//! | [`parse_jvm_size`] | `-Xmx2g`, `-XX:MaxHeapSize=512m` | HotSpot `Arguments::parse_memory_size` (k/m/g/t, either case, base 1024) |
//! | [`parse_go_memlimit`] | `GOMEMLIMIT=900MiB` | Go `runtime/debug.SetMemoryLimit` / `parseByteCount` (B, KiB … TiB) |

use std::fmt;

/// Bytes of one KiB.
pub const KIB: u64 = 1024;
/// Bytes of one MiB.
pub const MIB: u64 = 1024 * KIB;
/// Bytes of one GiB.
pub const GIB: u64 = 1024 * MIB;

/// systemd's base-1024 size suffixes, in the order `parse_size()` tries them: a later
/// component of `"1G 512M"` must use a smaller suffix than the one before.
const SYSTEMD_IEC: [(&str, u64); 8] = [
    ("E", 1 << 60),
    ("P", 1 << 50),
    ("T", 1 << 40),
    ("G", 1 << 30),
    ("M", 1 << 20),
    ("K", 1 << 10),
    ("B", 1),
    ("", 1),
];

/// Parses a size as systemd's `parse_size(t, 1024, …)` does: one or more components
/// `<digits>[.<digits>]<suffix>` separated by optional whitespace, suffixes `K M G T P E`
/// (upper case only, powers of 1024) or `B`, each component with a smaller suffix than the
/// one before; the fraction is applied like systemd's double arithmetic (truncated).
pub fn parse_systemd_size(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size (e.g. 512M, 1.5G)");
    let b = text.as_bytes();
    let mut p = 0;
    let mut total: u64 = 0;
    let mut start = 0;
    loop {
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        // strtoull(): optional '+', '-' is refused.
        if p < b.len() && b[p] == b'-' {
            return Err(format!("{text:?}: a size cannot be negative"));
        }
        if p < b.len() && b[p] == b'+' {
            p += 1;
        }
        let ds = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        if p == ds {
            return Err(bad());
        }
        let whole: u64 = text[ds..p].parse().map_err(|_| bad())?;
        let mut frac = 0f64;
        if p < b.len() && b[p] == b'.' {
            p += 1;
            let fs = p;
            while p < b.len() && b[p].is_ascii_digit() {
                p += 1;
            }
            if p > fs {
                let digits = &text[fs..p];
                let v: f64 = digits.parse::<u64>().map_err(|_| bad())? as f64;
                frac = v / 10f64.powi(digits.len() as i32);
            }
        }
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        let rest = &text[p..];
        let Some(i) = (start..SYSTEMD_IEC.len()).find(|&i| rest.starts_with(SYSTEMD_IEC[i].0))
        else {
            return Err(bad());
        };
        let (suffix, factor) = SYSTEMD_IEC[i];
        if whole + u64::from(frac > 0.0) > u64::MAX / factor {
            return Err(format!("{text:?} is too large"));
        }
        let part = whole * factor + (frac * factor as f64) as u64;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{text:?} is too large"))?;
        p += suffix.len();
        start = i + 1;
        if p >= b.len() {
            return Ok(total);
        }
    }
}

/// A parsed `Memory*=` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryValue {
    /// A number of bytes.
    Bytes(u64),
    /// A share of physical memory in units of 1/10000 (`50%` is 5000).
    Permyriad(u32),
    /// `infinity`: no limit.
    Infinity,
}

impl MemoryValue {
    /// Bytes, resolving a percentage against `ram` (systemd's `physical_memory_scale()`);
    /// `None` for infinity or a percentage without a known RAM size.
    pub fn bytes(self, ram: Option<u64>) -> Option<u64> {
        match self {
            MemoryValue::Bytes(b) => Some(b),
            MemoryValue::Permyriad(p) => {
                ram.map(|r| ((u128::from(r) * u128::from(p)) / 10_000) as u64)
            }
            MemoryValue::Infinity => None,
        }
    }
}

/// Parses a percentage as systemd's `parse_permyriad()`: `N%` (up to two decimals), `N‰`
/// (one decimal) or `N‱`, at most 100%. `None` when `text` is not a percentage at all.
fn parse_permyriad(text: &str) -> Option<Result<u32, String>> {
    let (num, scale) = if let Some(n) = text.strip_suffix('%') {
        (n, 100u32)
    } else if let Some(n) = text.strip_suffix('‰') {
        (n, 10)
    } else if let Some(n) = text.strip_suffix('‱') {
        (n, 1)
    } else {
        return None;
    };
    let bad = || format!("{text:?} is not a percentage");
    // Decimals allowed: two for %, one for ‰, none for ‱.
    let max_decimals = match scale {
        100 => 2,
        10 => 1,
        _ => 0,
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) {
        return Some(Err(bad()));
    }
    if frac.len() > max_decimals || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Some(Err(bad()));
    }
    if num.contains('.') && frac.is_empty() {
        return Some(Err(bad()));
    }
    let Ok(i) = int.parse::<u64>() else {
        return Some(Err(bad()));
    };
    let mut f = 0u64;
    let mut unit = u64::from(scale);
    for c in frac.bytes() {
        unit /= 10;
        f += u64::from(c - b'0') * unit;
    }
    let v = i.saturating_mul(u64::from(scale)).saturating_add(f);
    if v > 10_000 {
        return Some(Err(format!("{text:?} is more than 100%")));
    }
    Some(Ok(v as u32))
}

/// Parses a `Memory{Min,Low,High,Max,SwapMax}=` / `MemoryLimit=` value as systemd's
/// `config_parse_memory_limit()`: `infinity`, a percentage of physical memory, or a size.
/// The empty value (a reset) is handled by the caller.
pub fn parse_memory_limit(text: &str) -> Result<MemoryValue, String> {
    if text == "infinity" {
        return Ok(MemoryValue::Infinity);
    }
    if let Some(p) = parse_permyriad(text) {
        return p.map(MemoryValue::Permyriad);
    }
    let b = parse_systemd_size(text)?;
    if b == u64::MAX {
        return Ok(MemoryValue::Infinity);
    }
    Ok(MemoryValue::Bytes(b))
}

/// A time span in microseconds, or infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Span {
    /// Microseconds.
    Usec(u64),
    /// `infinity`.
    Infinity,
}

impl Span {
    /// Seconds as a float (infinity as `f64::INFINITY`).
    pub fn secs_f64(self) -> f64 {
        match self {
            Span::Usec(u) => u as f64 / 1e6,
            Span::Infinity => f64::INFINITY,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Span::Infinity => write!(f, "infinity"),
            Span::Usec(u) => {
                if u == 0 {
                    return write!(f, "0");
                }
                let units: [(&str, u64); 6] = [
                    ("d", 86_400_000_000),
                    ("h", 3_600_000_000),
                    ("min", 60_000_000),
                    ("s", 1_000_000),
                    ("ms", 1_000),
                    ("us", 1),
                ];
                let mut rest = u;
                let mut first = true;
                for (name, n) in units {
                    if rest >= n {
                        if !first {
                            write!(f, " ")?;
                        }
                        write!(f, "{}{name}", rest / n)?;
                        rest %= n;
                        first = false;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The unit table of systemd's `parse_time()`, in its order (the first prefix match wins).
const TIME_UNITS: [(&str, u64); 29] = [
    ("seconds", 1_000_000),
    ("second", 1_000_000),
    ("sec", 1_000_000),
    ("s", 1_000_000),
    ("minutes", 60_000_000),
    ("minute", 60_000_000),
    ("min", 60_000_000),
    ("months", 2_629_800_000_000),
    ("month", 2_629_800_000_000),
    ("M", 2_629_800_000_000),
    ("msec", 1_000),
    ("ms", 1_000),
    ("m", 60_000_000),
    ("hours", 3_600_000_000),
    ("hour", 3_600_000_000),
    ("hr", 3_600_000_000),
    ("h", 3_600_000_000),
    ("days", 86_400_000_000),
    ("day", 86_400_000_000),
    ("d", 86_400_000_000),
    ("weeks", 604_800_000_000),
    ("week", 604_800_000_000),
    ("w", 604_800_000_000),
    ("years", 31_557_600_000_000),
    ("year", 31_557_600_000_000),
    ("y", 31_557_600_000_000),
    ("usec", 1),
    ("us", 1),
    ("µs", 1),
];

/// Parses a time span as systemd's `parse_sec()`: components `<number>[.<fraction>][unit]`
/// separated by optional whitespace, unit-less numbers in seconds, or `infinity`.
pub fn parse_timespan(text: &str) -> Result<Span, String> {
    let t = text.trim();
    if t == "infinity" {
        return Ok(Span::Infinity);
    }
    let bad = || format!("{text:?} is not a time span (e.g. 30s, 5min, 1h 30min)");
    let b = t.as_bytes();
    let mut p = 0;
    let mut total: u64 = 0;
    if t.is_empty() {
        return Err(bad());
    }
    while p < b.len() {
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= b.len() {
            break;
        }
        let ds = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        let int_digits = &t[ds..p];
        let mut frac = "";
        if p < b.len() && b[p] == b'.' {
            p += 1;
            let fs = p;
            while p < b.len() && b[p].is_ascii_digit() {
                p += 1;
            }
            frac = &t[fs..p];
        }
        if int_digits.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        let rest = &t[p..];
        let (unit_len, mult) = TIME_UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .map(|(u, m)| (u.len(), *m))
            .unwrap_or((0, 1_000_000));
        // A unit must not run on into more letters ("5sx").
        if rest[unit_len..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic())
        {
            return Err(bad());
        }
        p += unit_len;
        let whole: u64 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(mult).ok_or_else(bad)?;
        if !frac.is_empty() {
            let mut m = mult;
            for c in frac.bytes() {
                m /= 10;
                part = part.saturating_add(u64::from(c - b'0') * m);
            }
        }
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    Ok(Span::Usec(total))
}

/// A Kubernetes resource quantity, kept exactly: `digits × 10^exp10 × 2^exp2`, negative
/// when `negative`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    /// The text as written.
    pub text: String,
    /// Whether a leading `-` was given.
    pub negative: bool,
    /// Significant digits (no sign, no point), leading zeros stripped.
    digits: String,
    /// Power of ten applied to `digits`.
    exp10: i64,
    /// Power of two applied to `digits` (binary suffixes).
    exp2: u32,
}

impl Quantity {
    /// The value rounded up to a whole number, as Kubernetes' `Quantity.Value()` does for
    /// bytes (`0.5` is 1), saturating at `u64::MAX`; 0 for negative values.
    pub fn ceil_u64(&self) -> u64 {
        u64::try_from(self.ceil_scaled(0)).unwrap_or(u64::MAX)
    }

    /// The value in thousandths, rounded up (`MilliValue()`), saturating; 0 when negative.
    pub fn ceil_milli(&self) -> u128 {
        self.ceil_scaled(3)
    }

    /// `value × 10^extra` rounded up, saturating at `u128::MAX`.
    fn ceil_scaled(&self, extra: i64) -> u128 {
        if self.negative || self.digits.is_empty() {
            return 0;
        }
        let mut n: u128 = 0;
        for c in self.digits.bytes() {
            n = match n
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(c - b'0')))
            {
                Some(v) => v,
                None => return u128::MAX,
            };
        }
        if self.exp2 > 0 {
            if n.leading_zeros() < self.exp2 {
                return u128::MAX;
            }
            n <<= self.exp2;
        }
        let exp10 = self.exp10.saturating_add(extra);
        if exp10 >= 0 {
            for _ in 0..exp10 {
                n = match n.checked_mul(10) {
                    Some(v) => v,
                    None => return u128::MAX,
                };
            }
            n
        } else {
            let mut div: u128 = 1;
            for _ in 0..exp10.unsigned_abs() {
                match div.checked_mul(10) {
                    Some(d) => div = d,
                    // The divisor exceeds any u128 numerator: a positive value under 1.
                    None => return 1,
                }
            }
            n.div_ceil(div)
        }
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a Kubernetes quantity exactly as `resource.ParseQuantity` accepts it:
/// `[+-]<digits>[.<digits>]<suffix>` where the suffix is a binary SI suffix (`Ki Mi Gi Ti Pi
/// Ei`), a decimal SI suffix (`n u m "" k M G T P E`, case-sensitive: `K` and `mi` are
/// errors) or a decimal exponent (`e3`, `E-2`). Values are kept exact (`0.5Gi`, `1e3`).
pub fn parse_quantity(text: &str) -> Result<Quantity, String> {
    let err = |why: &str| format!("{text:?} is not a Kubernetes quantity ({why})");
    if text.is_empty() {
        return Err(err("empty"));
    }
    let b = text.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    match b[0] {
        b'-' => {
            negative = true;
            pos = 1;
        }
        b'+' => pos = 1,
        _ => {}
    }
    let num_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = &text[num_start..pos];
    let mut denom = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let ds = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &text[ds..pos];
    }
    // The suffix: letters of "eEinumkKMGTP", an optional sign, digits (parseQuantityString).
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < b.len() {
        return Err(err("unexpected character"));
    }
    // A missing number reads as 0, as in parseQuantityString ("Mi", "-" and "." are 0).
    let suffix = &text[suffix_start..];
    let (exp10, exp2) = match suffix {
        "" => (0i64, 0u32),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            // strconv.ParseInt(s[1:], 10, 64), then int32(...).
            let e: i64 = s[1..].parse().map_err(|_| err("bad exponent"))?;
            (i64::from(e as i32), 0)
        }
        _ => {
            return Err(err(
                "unknown suffix; use Ki, Mi, Gi, k, M, G or an exponent",
            ))
        }
    };
    let mut digits = format!("{num}{denom}");
    let mut exp10 = exp10 - denom.len() as i64;
    let lead = digits.bytes().take_while(|&c| c == b'0').count();
    digits.drain(..lead);
    // Trailing zeros into the exponent keeps the number short.
    while digits.ends_with('0') {
        digits.pop();
        exp10 += 1;
    }
    if digits.is_empty() {
        return Ok(zero(text, negative));
    }
    Ok(Quantity {
        text: text.to_string(),
        negative,
        digits,
        exp10,
        exp2,
    })
}

fn zero(text: &str, negative: bool) -> Quantity {
    Quantity {
        text: text.to_string(),
        negative,
        digits: String::new(),
        exp10: 0,
        exp2: 0,
    }
}

/// Parses a HotSpot memory size (`-Xmx`, `-XX:MaxHeapSize=`): digits with an optional
/// `k`/`m`/`g`/`t` suffix in either case, powers of 1024; no suffix means bytes.
pub fn parse_jvm_size(text: &str) -> Option<u64> {
    let (num, mult) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], KIB),
        'm' | 'M' => (&text[..text.len() - 1], MIB),
        'g' | 'G' => (&text[..text.len() - 1], GIB),
        't' | 'T' => (&text[..text.len() - 1], 1024 * GIB),
        c if c.is_ascii_digit() => (text, 1),
        _ => return None,
    };
    if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// Parses a `GOMEMLIMIT` value as Go's runtime does: a non-negative integer with an optional
/// unit `B`, `KiB`, `MiB`, `GiB` or `TiB`; `off` means no limit (`Ok(None)`).
pub fn parse_go_memlimit(text: &str) -> Result<Option<u64>, String> {
    if text == "off" {
        return Ok(None);
    }
    let units: [(&str, u64); 5] = [
        ("TiB", 1024 * GIB),
        ("GiB", GIB),
        ("MiB", MIB),
        ("KiB", KIB),
        ("B", 1),
    ];
    let (num, mult) = units
        .iter()
        .find_map(|(u, m)| text.strip_suffix(u).map(|n| (n, *m)))
        .unwrap_or((text, 1));
    if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "GOMEMLIMIT={text:?} is not a byte count (e.g. 900MiB)"
        ));
    }
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .map(Some)
        .ok_or_else(|| format!("GOMEMLIMIT={text:?} is too large"))
}

/// A byte count for people: the largest binary unit that keeps one decimal, e.g. `1.5G`,
/// `512M`, `300K`; whole numbers print without a decimal.
pub fn human_bytes(b: u64) -> String {
    let units: [(&str, u64); 5] = [
        ("T", 1024 * GIB),
        ("G", GIB),
        ("M", MIB),
        ("K", KIB),
        ("B", 1),
    ];
    for (name, n) in units {
        if b >= n {
            if b % n == 0 {
                return format!("{}{name}", b / n);
            }
            let tenths = (u128::from(b) * 10 + u128::from(n) / 2) / u128::from(n);
            return format!("{}.{}{name}", tenths / 10, tenths % 10);
        }
    }
    "0".to_string()
}

/// A byte count in Kubernetes' binary suffixes (`512Mi`, `1Gi`, `1.5Gi`), for messages about
/// manifests, where `G` would mean 10^9.
pub fn human_bytes_iec(b: u64) -> String {
    let h = human_bytes(b);
    match h.strip_suffix('B') {
        Some(n) => n.to_string(),
        None => format!("{h}i"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_sizes_follow_parse_size() {
        assert_eq!(parse_systemd_size("512M"), Ok(512 * MIB));
        assert_eq!(parse_systemd_size("1G"), Ok(GIB));
        assert_eq!(parse_systemd_size("1.5G"), Ok(GIB + GIB / 2));
        assert_eq!(parse_systemd_size("1536"), Ok(1536));
        assert_eq!(parse_systemd_size("1536B"), Ok(1536));
        assert_eq!(parse_systemd_size("1G 512M"), Ok(GIB + 512 * MIB));
        assert_eq!(parse_systemd_size(" 2 K"), Ok(2048));
        assert_eq!(parse_systemd_size("10.M"), Ok(10 * MIB));
        // Suffixes are upper case; a smaller suffix may not come first.
        assert!(parse_systemd_size("1k").is_err());
        assert!(parse_systemd_size("512M 1G").is_err());
        assert!(parse_systemd_size("1Gi").is_err());
        assert!(parse_systemd_size("-1G").is_err());
        assert!(parse_systemd_size("").is_err());
        assert!(parse_systemd_size("G").is_err());
        assert!(parse_systemd_size("20E").is_err());
    }

    #[test]
    fn memory_limits_take_percent_and_infinity() {
        assert_eq!(parse_memory_limit("infinity"), Ok(MemoryValue::Infinity));
        assert_eq!(parse_memory_limit("50%"), Ok(MemoryValue::Permyriad(5000)));
        assert_eq!(
            parse_memory_limit("12.5%"),
            Ok(MemoryValue::Permyriad(1250))
        );
        assert_eq!(parse_memory_limit("5‰"), Ok(MemoryValue::Permyriad(50)));
        assert_eq!(parse_memory_limit("7‱"), Ok(MemoryValue::Permyriad(7)));
        assert!(parse_memory_limit("101%").is_err());
        assert!(parse_memory_limit("1.234%").is_err());
        assert_eq!(
            MemoryValue::Permyriad(5000).bytes(Some(8 * GIB)),
            Some(4 * GIB)
        );
        assert_eq!(MemoryValue::Permyriad(5000).bytes(None), None);
        assert_eq!(
            parse_memory_limit("512M"),
            Ok(MemoryValue::Bytes(512 * MIB))
        );
    }

    #[test]
    fn timespans_follow_parse_sec() {
        let s = |v: u64| Ok(Span::Usec(v * 1_000_000));
        assert_eq!(parse_timespan("5"), s(5));
        assert_eq!(parse_timespan("5s"), s(5));
        assert_eq!(parse_timespan("100ms"), Ok(Span::Usec(100_000)));
        assert_eq!(parse_timespan("5min 20s"), s(320));
        assert_eq!(parse_timespan("5min20s"), s(320));
        assert_eq!(parse_timespan("1h"), s(3600));
        assert_eq!(parse_timespan("1.5h"), s(5400));
        assert_eq!(parse_timespan("2 weeks"), s(14 * 86400));
        assert_eq!(parse_timespan("1m"), s(60));
        assert_eq!(parse_timespan("1M"), s(2_629_800));
        assert_eq!(parse_timespan("infinity"), Ok(Span::Infinity));
        assert_eq!(parse_timespan("0"), Ok(Span::Usec(0)));
        assert!(parse_timespan("5x").is_err());
        assert!(parse_timespan("").is_err());
        assert_eq!(Span::Usec(3_723_000_000).to_string(), "1h 2min 3s");
    }

    #[test]
    fn quantities_parse_as_kubernetes_does() {
        let q = |t: &str| parse_quantity(t).map(|q| q.ceil_u64());
        assert_eq!(q("128974848"), Ok(128_974_848));
        assert_eq!(q("129e6"), Ok(129_000_000));
        assert_eq!(q("129E6"), Ok(129_000_000));
        assert_eq!(q("129M"), Ok(129_000_000));
        assert_eq!(q("123Mi"), Ok(123 * MIB));
        assert_eq!(q("1Gi"), Ok(GIB));
        assert_eq!(q("1G"), Ok(1_000_000_000));
        assert_eq!(q("1k"), Ok(1000));
        assert_eq!(q("1Ki"), Ok(1024));
        assert_eq!(q("0.5Gi"), Ok(GIB / 2));
        assert_eq!(q("1.5Gi"), Ok(GIB + GIB / 2));
        assert_eq!(q(".5Gi"), Ok(GIB / 2));
        assert_eq!(q("1.G"), Ok(1_000_000_000));
        assert_eq!(q("+1Mi"), Ok(MIB));
        // Milli-bytes round up to a whole byte, as Quantity.Value() does.
        assert_eq!(q("100m"), Ok(1));
        assert_eq!(q("1500m"), Ok(2));
        assert_eq!(q("1e-3"), Ok(1));
        assert_eq!(q("0"), Ok(0));
        assert_eq!(q("0Mi"), Ok(0));
        // Kubernetes reads a missing number as zero.
        assert_eq!(q("Mi"), Ok(0));
        assert_eq!(q("-"), Ok(0));
        assert_eq!(q("1E"), Ok(1_000_000_000_000_000_000));
        assert_eq!(q("1e3"), Ok(1000));
        assert_eq!(q("1e+3"), Ok(1000));
        assert_eq!(q("8Ei"), Ok(8 << 60));
        assert_eq!(q("100Ei"), Ok(u64::MAX));
        assert!(parse_quantity("-1Gi").unwrap().negative);
        for bad in [
            "", "1K", "1mi", "1MB", "1gi", "1 Mi", "1Mi5", "1.5.5", "1e", "abc", "1Gi ", "0x10",
            "1iB",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn jvm_go_sizes() {
        assert_eq!(parse_jvm_size("2g"), Some(2 * GIB));
        assert_eq!(parse_jvm_size("512M"), Some(512 * MIB));
        assert_eq!(parse_jvm_size("1048576"), Some(MIB));
        assert_eq!(parse_jvm_size("1.5g"), None);
        assert_eq!(parse_go_memlimit("900MiB"), Ok(Some(900 * MIB)));
        assert_eq!(parse_go_memlimit("1073741824"), Ok(Some(GIB)));
        assert_eq!(parse_go_memlimit("off"), Ok(None));
        assert!(parse_go_memlimit("1GB").is_err());
        assert!(parse_go_memlimit("1G").is_err());
    }

    #[test]
    fn human_bytes_is_short() {
        assert_eq!(human_bytes(512 * MIB), "512M");
        assert_eq!(human_bytes(GIB + GIB / 2), "1.5G");
        assert_eq!(human_bytes(2 * GIB), "2G");
        assert_eq!(human_bytes(100), "100B");
        assert_eq!(human_bytes_iec(512 * MIB), "512Mi");
        assert_eq!(human_bytes_iec(GIB + GIB / 2), "1.5Gi");
        assert_eq!(human_bytes_iec(100), "100");
    }
}
