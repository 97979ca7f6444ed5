//! The Prometheus text format's writer: a family's HELP and TYPE, its samples, label values and
//! numbers, written straight into the exposition's one buffer.
//!
//! A scrape writes every sample of every run, so nothing here allocates per sample: a run's
//! labels come escaped from its [`RunLabels`](crate::state::labels::RunLabels), integers are
//! written by `itoa` and other numbers by `ryu`, laid out as Rust's `Display` lays them out
//! (positional, the shortest digits that read back as the number), which is what the exposition
//! has always shown. The one difference: where two shortest spellings are equally near the
//! number, `ryu` takes the even last digit and `Display` the upper one.

use crate::state::labels::escape_label_value;

/// One metric family being written: HELP and TYPE go out before its first sample only. The one
/// writer of the exposition: run metrics, the exporter's own counters and process metrics.
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
    help: &'a str,
    kind: &'a str,
    started: bool,
}

impl<'a> Family<'a> {
    pub fn new(out: &'a mut String, name: &'a str, kind: &'a str, help: &'a str) -> Family<'a> {
        Family {
            out,
            name,
            help,
            kind,
            started: false,
        }
    }

    /// Writes HELP and TYPE before the first sample, then the sample's name and suffix.
    fn start_sample(&mut self, suffix: &str) {
        if !self.started {
            self.out.push_str("# HELP ");
            self.out.push_str(self.name);
            self.out.push(' ');
            escape_help(self.help, self.out);
            self.out.push_str("\n# TYPE ");
            self.out.push_str(self.name);
            self.out.push(' ');
            self.out.push_str(self.kind);
            self.out.push('\n');
            self.started = true;
        }
        self.out.push_str(self.name);
        if !suffix.is_empty() {
            self.out.push_str(suffix);
        }
    }

    fn end_sample(&mut self, value: f64) {
        self.out.push(' ');
        write_value(value, self.out);
        self.out.push('\n');
    }

    /// A sample whose label values are escaped here (the gathered self-metrics).
    pub fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) {
        self.start_sample(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                push_label(self.out, key, value);
            }
            self.out.push('}');
        }
        self.end_sample(value);
    }

    /// A run's sample: `labels` is one of the run's label sets, braces included, as the text
    /// format spells it (built once per run).
    pub fn run_sample(&mut self, suffix: &str, labels: &str, value: f64) {
        self.start_sample(suffix);
        self.out.push_str(labels);
        self.end_sample(value);
    }
}

fn push_label(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str("=\"");
    escape_label_value(value, out);
    out.push('"');
}

/// Appends HELP text escaped as the text format asks: backslash and line feed.
pub fn escape_help(help: &str, out: &mut String) {
    let mut rest = help;
    while let Some(at) = rest.find(['\\', '\n']) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        out.push_str(if tail.starts_with('\\') {
            "\\\\"
        } else {
            "\\n"
        });
        rest = tail.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// Appends a sample value: `NaN`, `+Inf`, `-Inf`, or the number as `Display` writes it.
pub fn write_value(value: f64, out: &mut String) {
    // Counters and most gauges hold whole numbers, which `itoa` writes several times faster
    // than any shortest-float algorithm, with the same digits. The cast saturates (NaN gives 0),
    // so only a whole number in range reads back equal; -0 is left to the float path.
    let whole = value as i64;
    if whole as f64 == value
        && whole.unsigned_abs() < 1_000_000_000_000_000
        && (whole != 0 || value.is_sign_positive())
    {
        out.push_str(itoa::Buffer::new().format(whole));
    } else if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        write_finite(value, out);
    }
}

/// Appends a finite number with the shortest digits that read back as it (`ryu`), laid out as
/// `Display` lays them out: no exponent, no trailing `.0`, `-0` for negative zero.
fn write_finite(value: f64, out: &mut String) {
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(value);
    // Without an exponent ryu's layout is `Display`'s but for the `.0` of a whole number.
    if !shortest.as_bytes().contains(&b'e') {
        out.push_str(shortest.strip_suffix(".0").unwrap_or(shortest));
        return;
    }
    let (negative, unsigned) = match shortest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, shortest),
    };
    // ryu writes `d.ddd`, `0.000ddd` or `d.ddde±x`: gather the digits and where the point goes.
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // At most 17 significant digits, and the leading zeros of `0.000ddd` (at most 5).
    let mut digits = [0_u8; 32];
    let mut count = 0;
    for &digit in whole.as_bytes().iter().chain(fraction.as_bytes()) {
        if let Some(slot) = digits.get_mut(count) {
            *slot = digit;
            count += 1;
        }
    }
    // The point sits after `point` digits: value = 0.d1d2d3... × 10^point.
    let mut point = whole.len() as i32 + exponent;
    let mut significant = digits.get(..count).unwrap_or_default();
    while let Some((b'0', rest)) = significant.split_first() {
        significant = rest;
        point -= 1;
    }
    while let Some((b'0', rest)) = significant.split_last() {
        significant = rest;
    }
    if negative {
        out.push('-');
    }
    if significant.is_empty() {
        out.push('0');
        return;
    }
    let digits_text = std::str::from_utf8(significant).unwrap_or("0");
    let length = significant.len() as i32;
    if point <= 0 {
        out.push_str("0.");
        push_zeros(out, -point);
        out.push_str(digits_text);
    } else if point >= length {
        out.push_str(digits_text);
        push_zeros(out, point - length);
    } else {
        let (before, after) = digits_text.split_at(point as usize);
        out.push_str(before);
        out.push('.');
        out.push_str(after);
    }
}

fn push_zeros(out: &mut String, count: i32) {
    for _ in 0..count {
        out.push('0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: f64) -> String {
        let mut out = String::new();
        write_value(value, &mut out);
        out
    }

    #[test]
    fn values_use_prometheus_spellings() {
        let check = |value: f64, expected: &str| assert_eq!(written(value), expected, "{value:e}");
        check(f64::NAN, "NaN");
        check(f64::INFINITY, "+Inf");
        check(f64::NEG_INFINITY, "-Inf");
        check(0.25, "0.25");
        check(3.0, "3");
        check(-3.0, "-3");
        check(0.0, "0");
        check(-0.0, "-0");
        check(2_496_000_000_000_000.0, "2496000000000000");
        check(1e21, "1000000000000000000000");
        check(1.5e-7, "0.00000015");
        check(0.015081315916828519, "0.015081315916828519");
        check(37642964528403.984, "37642964528403.984");
        check(-12.225000047683714, "-12.225000047683714");
        check(1_764_000_000.123, "1764000000.123");
    }

    /// Every finite number reads back as itself, in `Display`'s layout and with as many digits:
    /// checked over a few hundred thousand bit patterns spread over every exponent, and over
    /// values near the integer path's edges. The digits are `Display`'s but where two shortest
    /// spellings are equally near (…536.25 as …536.2 or …536.3): then only the last digit differs.
    #[test]
    fn values_read_back_in_the_layout_of_display() {
        let mut rng = crate::test_rng::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next();
        let mut values: Vec<f64> = (0..300_000).map(|_| f64::from_bits(next())).collect();
        values.extend((0..20_000).map(|i| (next() % 1_000_000) as f64 / 1000.0 + i as f64));
        values.extend([
            1e15,
            1e15 - 1.0,
            1e15 + 2.0,
            1e16,
            1e17 + 64.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            0.1 + 0.2,
            1e-5,
            1e-6,
            123456789012345680.0,
        ]);
        let mut ties = 0;
        for value in values.into_iter().filter(|v| v.is_finite()) {
            let (ours, display) = (written(value), format!("{value}"));
            assert_eq!(ours.parse::<f64>().ok(), Some(value), "{value:e} as {ours}");
            if ours != display {
                let same_but_last = ours.len() == display.len()
                    && ours.get(..ours.len() - 1) == display.get(..display.len() - 1);
                assert!(same_but_last, "{value:e}: {ours} and Display's {display}");
                ties += 1;
            }
        }
        // Ties are rare: a few in a hundred thousand.
        assert!(
            ties < 100,
            "{ties} numbers spelled otherwise than by Display"
        );
        assert_eq!(
            written(1_394_865_425_023_536.0 + 0.25),
            "1394865425023536.2"
        );
    }

    #[test]
    fn help_is_escaped() {
        let check = |help: &str, expected: &str| {
            let mut out = String::new();
            escape_help(help, &mut out);
            assert_eq!(out, expected);
        };
        check("plain \"quotes\" stay", "plain \"quotes\" stay");
        check("a\\b\nc", "a\\\\b\\nc");
        check("\n", "\\n");
    }

    #[test]
    fn a_run_sample_writes_its_labels_in_order() {
        let mut out = String::new();
        let mut family = Family::new(&mut out, "m", "gauge", "Help.");
        family.run_sample("", "{run=\"r\",formula=\"palm\"}", 0.5);
        family.run_sample("_sum", "{run=\"r\"}", 2.0);
        assert_eq!(
            out,
            "# HELP m Help.\n# TYPE m gauge\nm{run=\"r\",formula=\"palm\"} 0.5\nm_sum{run=\"r\"} 2\n"
        );
    }
}
