//! Human-readable numbers for tables: SI prefixes, counts and percentages.
//!
//! Only the table output uses these; JSON and `/metrics` carry base units.

/// `value` with three significant digits and an SI prefix: `57.9 G`.
pub fn si(value: f64) -> String {
    const PREFIXES: [(f64, &str); 6] = [
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ];
    if !value.is_finite() {
        return value.to_string();
    }
    for (scale, prefix) in PREFIXES {
        if value.abs() >= scale * 0.9995 {
            return format!("{} {prefix}", three_significant(value / scale));
        }
    }
    format!("{} ", three_significant(value))
}

/// A count of parameters: `8.03 B`, `124 M`.
pub fn count(value: u64) -> String {
    const SCALES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")];
    let v = value as f64;
    for (scale, suffix) in SCALES {
        if v >= scale * 0.9995 {
            return format!("{} {suffix}", three_significant(v / scale));
        }
    }
    value.to_string()
}

/// A ratio as a percentage with three significant digits: `0.413` → `41.3 %`.
pub fn percent(ratio: f64) -> String {
    format!("{} %", three_significant(ratio * 100.0))
}

/// Thousands separators for exact counts: `124,439,808`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn three_significant(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 99.95 {
        0
    } else if magnitude >= 9.995 {
        1
    } else {
        2
    };
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_prefixes() {
        let check = |value: f64, expected: &str| assert_eq!(si(value), expected, "{value}");
        check(57.9e9, "57.9 G");
        check(989.4e12, "989 T");
        check(1.9789e15, "1.98 P");
        check(999.96e9, "1.00 T");
        check(12.0, "12.0 ");
        check(0.5, "0.50 ");
    }

    #[test]
    fn counts_and_percentages() {
        assert_eq!(count(8_030_261_248), "8.03 B");
        assert_eq!(count(124_439_808), "124 M");
        assert_eq!(count(671_026_404_352), "671 B");
        assert_eq!(count(512), "512");
        assert_eq!(percent(0.4132), "41.3 %");
        assert_eq!(percent(0.046), "4.60 %");
        assert_eq!(grouped(124_439_808), "124,439,808");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }
}
