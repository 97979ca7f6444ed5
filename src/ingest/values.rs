//! Values as logs write them, converted to a field's base unit: numbers in JSON or in text with
//! thousands separators (`5,856`), SI suffixes (`441.0T`), percent signs (`34.29%`), durations
//! (`0:32:48`, `1 day, 2:03:04`), and timestamps as Unix numbers or date-time text.
//!
//! A value is either converted, absent, or wrong:
//! - absent: `nan`, `inf` and their spellings, a zero rate or token count (a placeholder: a
//!   trainer that does not count tokens prints `0.00`), a negative ratio (nanoGPT's `-100.00%`
//!   before its average starts). Absent values never reach a counter or a gauge.
//! - wrong: text that is no number, a negative token count, rate or duration, a fractional step,
//!   a ratio above 1, a value above [`Field::plausible_limit`]. The caller names the key.

use super::observation::{Field, FieldKind, FieldValue};
use super::quote::{float_text, quote};
use std::fmt;

/// A value as a parser meets it; strings are borrowed from the line.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Array,
    Object,
}

impl fmt::Display for Raw<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Unsigned(value) => write!(formatter, "{value}"),
            Raw::Signed(value) => write!(formatter, "{value}"),
            Raw::Float(value) => formatter.write_str(&float_text(*value)),
            Raw::Str(text) => write!(formatter, "string {}", quote(text)),
            Raw::Bool(value) => write!(formatter, "boolean {value}"),
            Raw::Array => formatter.write_str("an array"),
            Raw::Object => formatter.write_str("an object"),
        }
    }
}

/// Converts one raw value into `field`'s base unit: `Ok(None)` when the value is absent (see the
/// module doc), `Err` with what is wrong (the caller names the key). `scale` multiplies numbers
/// (0.001 for milliseconds, 0.01 for percent, 1e12 for TFLOP/s); it does not apply to steps, to
/// durations written as `H:MM:SS`, to date-time text, or to a number with a `%` sign or an SI
/// suffix, which say their own unit.
#[inline(always)]
pub fn convert(field: Field, scale: f64, raw: &Raw<'_>) -> Result<Option<FieldValue>, String> {
    match field.kind() {
        FieldKind::Count => convert_count(field, raw).map(|count| Some(FieldValue::Count(count))),
        FieldKind::Timestamp => convert_timestamp(scale, raw).map(|t| Some(FieldValue::Real(t))),
        FieldKind::Real => Ok(number(field, scale, raw)?.map(FieldValue::Real)),
        FieldKind::Throughput | FieldKind::FlopsPerSecond | FieldKind::Seconds => {
            let value = match *raw {
                Raw::Str(text) if field.kind() == FieldKind::Seconds => match duration_text(text) {
                    Some(seconds) => Some(seconds),
                    None => number(field, scale, raw)?,
                },
                _ => number(field, scale, raw)?,
            };
            let Some(value) = value else {
                return Ok(None);
            };
            if value < 0.0 {
                return Err(format!(
                    "must be 0 or more, got {raw}; check that the key holds {field}"
                ));
            }
            if value == 0.0 && field.kind() != FieldKind::Seconds {
                return Ok(None);
            }
            let limit = field.plausible_limit();
            if value > limit {
                return Err(format!(
                    "is {raw}, above the plausible limit of {} for {field}; check that the key holds {field} and its unit",
                    float_text(limit)
                ));
            }
            Ok(Some(FieldValue::Real(value)))
        }
        FieldKind::Ratio => {
            let percent_sign = matches!(raw, Raw::Str(text) if text.trim_end().ends_with('%'));
            let Some(value) = number(field, scale, raw)? else {
                return Ok(None);
            };
            if value < 0.0 {
                return Ok(None);
            }
            if value <= 1.0 {
                Ok(Some(FieldValue::Real(value)))
            } else if !percent_sign && scale == 1.0 && value <= 100.0 {
                Err(format!(
                    "must be a ratio from 0 to 1, got {raw}, which looks like percent; if the trainer logs \
                     percent, give {field} the unit \"percent\" (a scale of 0.01)"
                ))
            } else {
                Err(format!(
                    "must be from 0 to 1 after scaling by {}, got {raw}; check the key and its unit",
                    float_text(scale)
                ))
            }
        }
    }
}

/// A number from a JSON number or numeric text, times `scale`; `None` for `nan` and `inf`.
/// JSON numbers are converted here, inline; text and the wrong kinds of value apart.
#[inline(always)]
fn number(field: Field, scale: f64, raw: &Raw<'_>) -> Result<Option<f64>, String> {
    let value = match *raw {
        Raw::Unsigned(value) => value as f64,
        Raw::Signed(value) => value as f64,
        Raw::Float(value) => value,
        Raw::Str(_) | Raw::Bool(_) | Raw::Array | Raw::Object => {
            return number_of_other(field, scale, raw)
        }
    };
    finite_scaled(value, scale, raw)
}

/// [`number`] for what is not a JSON number.
#[inline(never)]
fn number_of_other(field: Field, scale: f64, raw: &Raw<'_>) -> Result<Option<f64>, String> {
    let Raw::Str(text) = *raw else {
        return Err(not_a_number(field, raw));
    };
    let parsed = number_text(text).ok_or_else(|| not_a_number(field, raw))?;
    // A `%` sign or an SI suffix says the unit; the spec's scale is for bare numbers.
    let scale = if parsed.self_scaled { 1.0 } else { scale };
    finite_scaled(parsed.value, scale, raw)
}

/// `value` times `scale`: `None` when `value` is not finite, an error when the product is not.
#[inline(always)]
fn finite_scaled(value: f64, scale: f64, raw: &Raw<'_>) -> Result<Option<f64>, String> {
    if !value.is_finite() {
        return Ok(None);
    }
    let scaled = apply_scale(value, scale);
    if scaled.is_finite() {
        Ok(Some(scaled))
    } else {
        Err(not_finite_after_scaling(scale, raw))
    }
}

#[cold]
fn not_finite_after_scaling(scale: f64, raw: &Raw<'_>) -> String {
    format!(
        "is {raw}, which is not finite after scaling by {}; check the unit",
        float_text(scale)
    )
}

/// Numeric text as a log writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberText {
    pub value: f64,
    /// A `%` sign or an SI suffix gave the unit.
    pub self_scaled: bool,
}

/// Reads `1234`, `-1.5e-3`, `5,856` (thousands separators in groups of three), `441.0T` (an SI
/// suffix k, K, M, G, T or P), `34.29%` (a ratio of 0.3429), and `nan` / `inf` in any spelling
/// (non-finite values). Surrounding whitespace is ignored.
pub fn number_text(text: &str) -> Option<NumberText> {
    let text = text.trim();
    if let Some(value) = non_finite(text) {
        return Some(NumberText {
            value,
            self_scaled: false,
        });
    }
    let (body, exponent) = match text.as_bytes().last()? {
        b'%' => (text.get(..text.len() - 1)?, Some(-2)),
        b'k' | b'K' => (text.get(..text.len() - 1)?, Some(3)),
        b'M' => (text.get(..text.len() - 1)?, Some(6)),
        // `B` is a billion, as OLMo-core prints counts from 1e9 to 1e12.
        b'G' | b'B' => (text.get(..text.len() - 1)?, Some(9)),
        b'T' => (text.get(..text.len() - 1)?, Some(12)),
        b'P' => (text.get(..text.len() - 1)?, Some(15)),
        b'E' => (text.get(..text.len() - 1)?, Some(18)),
        _ => (text, None),
    };
    let body = body.trim_end();
    let value = plain_number(body)?;
    let Some(exponent) = exponent else {
        return Some(NumberText {
            value,
            self_scaled: false,
        });
    };
    // Shifting the decimal point in the text keeps 34.29% exactly the double nearest 0.3429.
    let shifted = if body.contains(['e', 'E', ',']) {
        value * 10f64.powi(exponent)
    } else {
        format!("{body}e{exponent}").parse().ok()?
    };
    Some(NumberText {
        value: shifted,
        self_scaled: true,
    })
}

fn non_finite(text: &str) -> Option<f64> {
    let (negative, word) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    if word.eq_ignore_ascii_case("nan") {
        Some(f64::NAN)
    } else if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity") {
        Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        })
    } else {
        None
    }
}

/// A decimal number, with thousands separators allowed only as `,` between groups of three digits
/// before the decimal point.
fn plain_number(text: &str) -> Option<f64> {
    if !text.contains(',') {
        // `parse` also takes "inf", "nan" and "infinity", handled before; refuse words here.
        if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        {
            return None;
        }
        return text.parse().ok();
    }
    let (integer, rest) = match text.find(['.', 'e', 'E']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let digits = integer.trim_start_matches(['-', '+']);
    let mut groups = digits.split(',');
    let first = groups.next()?;
    let first_ok = (1..=3).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_digit());
    let rest_ok = groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
    if !first_ok || !rest_ok || rest.contains(',') {
        return None;
    }
    let sign = &integer[..integer.len() - digits.len()];
    format!("{sign}{}{rest}", digits.replace(',', ""))
        .parse()
        .ok()
}

/// Reads `H:MM:SS`, `MM:SS`, `H:MM:SS.fff` and `N day(s), H:MM:SS` (Python's `timedelta`) as
/// seconds; `None` for anything else.
pub fn duration_text(text: &str) -> Option<f64> {
    let text = text.trim();
    if !text.contains(':') {
        return None;
    }
    let (days, clock) = match text.split_once(',') {
        Some((days, clock)) => {
            let days = days.trim();
            let count = days
                .strip_suffix("days")
                .or_else(|| days.strip_suffix("day"))?
                .trim();
            let count: i64 = count.parse().ok()?;
            (count, clock.trim())
        }
        None => (0, text),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [hours, minutes, seconds] => (*hours, *minutes, *seconds),
        [minutes, seconds] => ("0", *minutes, *seconds),
        _ => return None,
    };
    let whole = |text: &str| -> Option<f64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<f64>().ok())
            .flatten()
    };
    let hours = whole(hours)?;
    let minutes = whole(minutes)?;
    let seconds_ok = !seconds.is_empty()
        && seconds.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && seconds.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if !seconds_ok || minutes >= 60.0 {
        return None;
    }
    let seconds: f64 = seconds.parse().ok()?;
    if seconds >= 61.0 {
        return None;
    }
    Some(days as f64 * 86_400.0 + hours * 3600.0 + minutes * 60.0 + seconds)
}

/// Multiplies by the scale, dividing instead when the scale is the inverse of a whole number, so
/// that 41 at scale 0.01 gives exactly 0.41 rather than 0.41000000000000003.
#[inline]
pub fn apply_scale(value: f64, scale: f64) -> f64 {
    if scale == 1.0 {
        return value;
    }
    let inverse = 1.0 / scale;
    if inverse.fract() == 0.0 && inverse > 1.0 {
        value / inverse
    } else {
        value * scale
    }
}

fn not_a_number(field: Field, raw: &Raw<'_>) -> String {
    format!("must be a number or a numeric string, got {raw}; log a number there or map {field} to another key")
}

/// A count: a JSON integer inline, anything else apart.
#[inline(always)]
fn convert_count(field: Field, raw: &Raw<'_>) -> Result<u64, String> {
    let Raw::Unsigned(count) = *raw else {
        return convert_other_count(field, raw);
    };
    plausible_count(field, count, raw)
}

/// [`convert_count`] for what is not a JSON integer 0 or more.
#[inline(never)]
fn convert_other_count(field: Field, raw: &Raw<'_>) -> Result<u64, String> {
    let invalid =
        || format!("must be a whole number 0 or more, got {raw}; log the {field} as an integer");
    let whole = |value: f64| {
        // 2^64 is exactly representable; every integral float below it fits a u64.
        if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value) {
            Ok(value as u64)
        } else {
            Err(invalid())
        }
    };
    let count = match *raw {
        Raw::Unsigned(value) => value,
        Raw::Float(value) => whole(value)?,
        Raw::Str(text) => {
            let text = text.trim();
            match text.parse::<u64>() {
                Ok(value) => value,
                Err(_) => whole(plain_number(text).ok_or_else(invalid)?)?,
            }
        }
        Raw::Signed(_) | Raw::Bool(_) | Raw::Array | Raw::Object => return Err(invalid()),
    };
    plausible_count(field, count, raw)
}

/// `count`, or an error when it is above `field`'s plausible limit.
#[inline(always)]
fn plausible_count(field: Field, count: u64, raw: &Raw<'_>) -> Result<u64, String> {
    if count as f64 > field.plausible_limit() {
        return Err(implausible_count(field, raw));
    }
    Ok(count)
}

#[cold]
fn implausible_count(field: Field, raw: &Raw<'_>) -> String {
    format!(
        "is {raw}, above the plausible limit of {} for {field}",
        float_text(field.plausible_limit())
    )
}

/// `text` without surrounding whitespace (`str::trim`), checked first at its two ends: text that
/// starts and ends with a visible ASCII character has none.
#[inline]
fn trimmed(text: &str) -> &str {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

fn convert_timestamp(scale: f64, raw: &Raw<'_>) -> Result<f64, String> {
    let invalid = || {
        format!(
            "must be unix seconds (or milliseconds, microseconds, nanoseconds) or a date-time such as \
             \"2024-05-01T12:00:00Z\" or \"2024-05-01 12:00:00,250\", got {raw}"
        )
    };
    let number = match *raw {
        // Whole seconds and the fraction apart, so that nanoseconds keep their precision beyond
        // 2^53.
        Raw::Unsigned(value) if scale == 1.0 => {
            let units_per_second: u64 = match value {
                0..=100_000_000_000 => 1,
                100_000_000_001..=100_000_000_000_000 => 1_000,
                100_000_000_000_001..=100_000_000_000_000_000 => 1_000_000,
                _ => 1_000_000_000,
            };
            let fraction = (value % units_per_second) as f64 / units_per_second as f64;
            return Ok((value / units_per_second) as f64 + fraction);
        }
        Raw::Unsigned(value) => value as f64,
        Raw::Signed(value) => value as f64,
        Raw::Float(value) => value,
        Raw::Str(text) => {
            let text = trimmed(text);
            match date_time_seconds(text) {
                Some(seconds) if seconds >= 0.0 => return Ok(seconds),
                Some(_) => return Err(format!("must not be before 1970, got {raw}")),
                None => text.parse::<f64>().map_err(|_| invalid())?,
            }
        }
        Raw::Bool(_) | Raw::Array | Raw::Object => return Err(invalid()),
    };
    let scaled = apply_scale(number, scale);
    if !scaled.is_finite() {
        return Err(invalid());
    }
    if scaled < 0.0 {
        return Err(format!("must not be before 1970, got {raw}"));
    }
    // Unix seconds stay below 1e11 until the year 5138, so larger numbers are finer units.
    Ok(if scaled > 1e17 {
        scaled / 1e9
    } else if scaled > 1e14 {
        scaled / 1e6
    } else if scaled > 1e11 {
        scaled / 1e3
    } else {
        scaled
    })
}

/// Reads a date-time as Unix seconds: RFC 3339 and ISO 8601 with an offset (`2024-05-01T12:00:00Z`,
/// `+02:00`), or without one (`2024-05-01 12:00:00,250`, Python's logging default), which is taken
/// as UTC: only differences between a log's own times matter.
pub fn date_time_seconds(text: &str) -> Option<f64> {
    // Only text that starts like a date reaches the parser: numbers are handled by the caller.
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes.get(4) != Some(&b'-') {
        return None;
    }
    common_date_time_seconds(bytes).or_else(|| parsed_date_time_seconds(text))
}

fn unix_seconds(timestamp: jiff::Timestamp) -> f64 {
    timestamp.as_second() as f64 + f64::from(timestamp.subsec_nanosecond()) / 1e9
}

/// [`date_time_seconds`] through `jiff`'s parsers, which read every form.
fn parsed_date_time_seconds(text: &str) -> Option<f64> {
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(unix_seconds(timestamp));
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    // Python's logging writes `2024-05-01 12:00:00,250`; jiff reads the comma as well.
    let timestamp = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(unix_seconds(timestamp))
}

/// The forms most logs write, `2024-05-01T12:00:00.250Z` and `2024-05-01 12:00:00,250` (a `T` or
/// a space, a fraction of 1 to 9 digits after `.` or `,` or none, `Z` or no offset), read field by
/// field without the general parser. `jiff` checks the date and counts its days, once per date
/// on each thread (see [`LAST_DATE`]), and the minute is counted once per minute of log (see
/// [`LAST_MINUTE`]); the clock is checked here (hours to 23, minutes and seconds to 59). `None`
/// for any other form, a leap second, a date before 1970 or a time past `jiff`'s last timestamp,
/// which [`parsed_date_time_seconds`] reads.
fn common_date_time_seconds(bytes: &[u8]) -> Option<f64> {
    let head: &[u8; 19] = bytes.first_chunk()?;
    let mut subsec_nanosecond = 0i32;
    match bytes.get(19..)? {
        [] | [b'Z'] => {}
        [b'.' | b',', fraction @ ..] => {
            let mut digits = 0u32;
            for &byte in fraction {
                if !byte.is_ascii_digit() {
                    break;
                }
                subsec_nanosecond = subsec_nanosecond * 10 + i32::from(byte - b'0');
                digits += 1;
                if digits > 9 {
                    return None;
                }
            }
            if digits == 0 || !matches!(fraction.get(digits as usize..)?, [] | [b'Z']) {
                return None;
            }
            subsec_nanosecond *= 10i32.pow(9 - digits);
        }
        _ => return None,
    }
    let second = two_digits(head, 17)?;
    if head[16] != b':' || second > 59 {
        return None;
    }
    let minute_text: [u8; 16] = *head.first_chunk()?;
    let minute_start = match LAST_MINUTE.get() {
        Some((last, seconds)) if last == minute_text => seconds,
        _ => {
            let seconds = minute_start_seconds(head)?;
            LAST_MINUTE.set(Some((minute_text, seconds)));
            seconds
        }
    };
    let seconds = minute_start + i64::from(second);
    // `jiff`'s timestamps end at 9999-12-30T22:00:00.999999999Z, within a day that it counts;
    // the general parser reads nothing past that second.
    if seconds > jiff::Timestamp::MAX.as_second() {
        return None;
    }
    Some(seconds as f64 + f64::from(subsec_nanosecond) / 1e9)
}

/// The two ASCII digits at `at` as a number.
fn two_digits(head: &[u8; 19], at: usize) -> Option<i32> {
    let (tens, ones) = (*head.get(at)?, *head.get(at + 1)?);
    (tens.is_ascii_digit() && ones.is_ascii_digit())
        .then(|| i32::from(tens - b'0') * 10 + i32::from(ones - b'0'))
}

/// The Unix seconds of the minute that `YYYY-MM-DD?HH:MM` (the `?` a `T` or a space) starts,
/// checked; `None` for any other layout, a clock beyond 23:59, or a date before 1970.
fn minute_start_seconds(head: &[u8; 19]) -> Option<i64> {
    let layout_ok =
        head[4] == b'-' && head[7] == b'-' && matches!(head[10], b'T' | b' ') && head[13] == b':';
    if !layout_ok {
        return None;
    }
    let (hour, minute) = (two_digits(head, 11)?, two_digits(head, 14)?);
    if hour > 23 || minute > 59 {
        return None;
    }
    let date = <[u8; 10]>::try_from(head.get(..10)?).ok()?;
    let midnight = match LAST_DATE.get() {
        Some((last, seconds)) if last == date => seconds,
        _ => {
            let number = |from: usize| -> Option<i32> {
                Some(two_digits(head, from)? * 100 + two_digits(head, from + 2)?)
            };
            let seconds = midnight_seconds(number(0)?, two_digits(head, 5)?, two_digits(head, 8)?)?;
            LAST_DATE.set(Some((date, seconds)));
            seconds
        }
    };
    if midnight < 0 {
        return None;
    }
    Some(midnight + i64::from(hour * 3600 + minute * 60))
}

thread_local! {
    /// The date (`YYYY-MM-DD`) of the last common date-time read on this thread and the Unix
    /// seconds of its midnight, UTC: the lines of a log share their date, so `jiff` checks and
    /// counts it once per day of log. Only a cache: every thread gets the same answers.
    static LAST_DATE: std::cell::Cell<Option<([u8; 10], i64)>> =
        const { std::cell::Cell::new(None) };

    /// The first 16 bytes (`YYYY-MM-DDTHH:MM`) of the last common date-time read on this thread
    /// and the Unix seconds at which that minute starts: a log writes many lines a minute. Only
    /// a cache, of text already checked: every thread gets the same answers.
    static LAST_MINUTE: std::cell::Cell<Option<([u8; 16], i64)>> =
        const { std::cell::Cell::new(None) };
}

/// Unix seconds at the start of a calendar day, UTC; `None` for a day that does not exist.
fn midnight_seconds(year: i32, month: i32, day: i32) -> Option<i64> {
    let date = jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    let datetime = date.to_datetime(jiff::civil::Time::midnight());
    Some(
        jiff::tz::Offset::UTC
            .to_timestamp(datetime)
            .ok()?
            .as_second(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    #[track_caller]
    fn check(field: Field, scale: f64, text: &str, expected: &str) {
        let actual = match convert(field, scale, &Raw::Str(text)) {
            Ok(None) => "absent".to_owned(),
            Ok(Some(FieldValue::Real(value))) => float_text(value),
            Ok(Some(FieldValue::Count(count))) => count.to_string(),
            Err(problem) => format!("error: {problem}"),
        };
        match expected.strip_suffix('…') {
            Some(prefix) => assert!(actual.starts_with(prefix), "{text:?}: {actual}"),
            None => assert_eq!(actual, expected, "{text:?}"),
        }
    }

    #[test]
    fn numbers_as_logs_write_them() {
        use Field::*;
        check(TokensPerSecond, 1.0, "5,856", "5856");
        check(TokensPerSecond, 1.0, "1,234,567.5", "1234567.5");
        check(TokensPerSecond, 1.0, " 739601 ", "739601");
        check(TokensPerStep, 1.0, "1.04858e+06", "1048580");
        check(
            ReportedFlopsPerSecondPerGpu,
            1.0,
            "441.0T",
            "441000000000000",
        );
        check(
            ReportedFlopsPerSecondPerGpu,
            1e12,
            "339.16",
            "339160000000000",
        );
        check(
            ReportedFlopsPerSecondPerGpu,
            1e12,
            "441.0T",
            "441000000000000",
        );
        check(TotalTokens, 1.0, "89.56P", "8.956e16");
        check(TotalTokens, 1.0, "12.35B", "12350000000");
        check(
            ReportedFlopsPerSecondPerGpu,
            1.0,
            "0.0015E",
            "1500000000000000",
        );
        check(TokensPerSecond, 1.0, "10.5k", "10500");
        check(ReportedMfu, 1.0, "34.29%", "0.3429");
        check(ReportedMfu, 0.01, "44.57", "0.4457");
        check(ReportedMfu, 0.01, "44.57%", "0.4457");
        check(ReportedMfu, 1.0, "0.41", "0.41");
        check(
            ReportedMfu,
            1.0,
            "41",
            "error: must be a ratio from 0 to 1, got string \"41\", which looks like percent…",
        );
        check(ReportedMfu, 1.0, "120%", "error: must be from 0 to 1…");
        check(Loss, 1.0, "2.5341", "2.5341");
        check(Loss, 1.0, "-0.5", "-0.5");
        check(Step, 1.0, "1,000", "1000");
        check(Step, 1.0, "10", "10");
        check(Step, 1.0, "1.5", "error: must be a whole number…");
        check(TokensPerSecond, 1.0, "12,34", "error: must be a number…");
        check(TokensPerSecond, 1.0, "1,2345", "error: must be a number…");
        check(TokensPerSecond, 1.0, "abc", "error: must be a number…");
        check(TokensPerSecond, 1.0, "0x10", "error: must be a number…");
        check(TokensPerSecond, 1.0, "-5", "error: must be 0 or more…");
        check(TokensPerSecond, 1.0, "2e12", "error: …");
    }

    #[test]
    fn placeholders_and_sentinels_are_absent() {
        use Field::*;
        for text in ["nan", "NaN", "inf", "-inf", "Infinity", "0", "0.00", "0%"] {
            check(TokensPerSecond, 1.0, text, "absent");
        }
        check(TotalTokens, 1.0, "0", "absent");
        check(ReportedMfu, 1.0, "-100.00%", "absent");
        check(ReportedMfu, 1.0, "nan", "absent");
        check(Loss, 1.0, "nan", "absent");
        check(ReportedFlopsPerSecondPerGpu, 1.0, "0.0", "absent");
        // A zero duration is a real value (a step that took less than the log's resolution).
        check(StepSeconds, 1.0, "0", "0");
    }

    #[test]
    fn durations() {
        use Field::*;
        check(ElapsedSeconds, 1.0, "0:32:48", "1968");
        check(ElapsedSeconds, 1.0, "1 day, 2:03:04", "93784");
        check(ElapsedSeconds, 1.0, "3 days, 0:00:01.5", "259201.5");
        check(ElapsedSeconds, 1.0, "12:30", "750");
        check(StepSeconds, 0.001, "30.52", "0.03052");
        check(StepSeconds, 0.001, "0:00:01", "1");
        check(ElapsedSeconds, 1.0, "1:75:00", "error: must be a number…");
        check(
            ElapsedSeconds,
            1.0,
            "x day, 1:00:00",
            "error: must be a number…",
        );
    }

    #[test]
    fn common_date_times_read_as_the_general_parser_reads_them() {
        let mut read = 0;
        for date in [
            "2024-05-01",
            "2024-02-29",
            "2023-02-29",
            "1970-01-01",
            "0000-01-01",
            "9999-12-31",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
        ] {
            for separator in ["T", " ", "t", "_"] {
                for clock in [
                    "12:00:00", "00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00",
                    "1:00:00", "12:00",
                ] {
                    for fraction in [
                        "",
                        ".5",
                        ",250",
                        ".000",
                        ".123456789",
                        ".1234567891",
                        ".",
                        ",x",
                    ] {
                        for offset in ["", "Z", "z", "+02:00", "-0130", " "] {
                            let text = format!("{date}{separator}{clock}{fraction}{offset}");
                            if let Some(seconds) = common_date_time_seconds(text.as_bytes()) {
                                read += 1;
                                assert_eq!(
                                    Some(seconds),
                                    parsed_date_time_seconds(&text),
                                    "{text}"
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(read > 100, "{read}");
        assert_eq!(
            common_date_time_seconds(b"2024-05-01T12:00:00.250Z"),
            Some(1_714_564_800.25)
        );
    }

    #[test]
    fn date_times_past_the_last_timestamp_read_as_the_general_parser_reads_them() {
        // `jiff`'s timestamps end at 9999-12-30T22:00:00.999999999Z, inside a day it counts.
        for text in [
            "9999-12-30T21:59:59Z",
            "9999-12-30T22:00:00.999999999Z",
            "9999-12-30T22:00:01Z",
            "9999-12-30 22:01:00",
            "9999-12-30 23:59:59,5",
            "9999-12-31T00:00:00Z",
        ] {
            assert_eq!(
                common_date_time_seconds(text.as_bytes())
                    .or_else(|| parsed_date_time_seconds(text)),
                parsed_date_time_seconds(text),
                "{text}"
            );
        }
        assert_eq!(
            common_date_time_seconds(b"9999-12-30T22:00:00.5Z"),
            Some(253_402_207_200.5)
        );
    }

    #[test]
    fn the_minute_cache_reads_each_text_as_the_general_parser_does() {
        // Each text after the first shares its minute, or all but its minute, with the text
        // before it; the two malformed ones share the cached minute's first 16 bytes.
        for text in [
            "2024-05-01T12:00:59.5Z",
            "2024-05-01T12:01:00Z",
            "2024-05-01T12:00:30",
            "2024-05-01 12:00:30,250",
            "2024-05-01 12:00:60",
            "2024-05-01 12:00x30",
            "2024-05-02 12:00:30",
            "2024-05-01T12:00:30Z",
        ] {
            assert_eq!(
                common_date_time_seconds(text.as_bytes()),
                parsed_date_time_seconds(text).filter(|_| !text.contains(":60")),
                "{text}"
            );
        }
    }

    #[test]
    fn timestamps() {
        use Field::*;
        check(Timestamp, 1.0, "2024-05-01T12:00:00Z", "1714564800");
        check(Timestamp, 1.0, "2024-05-01T14:00:00+02:00", "1714564800");
        check(Timestamp, 1.0, "2024-05-01 12:00:00", "1714564800");
        check(Timestamp, 1.0, "2024-05-01 12:00:00,250", "1714564800.25");
        check(Timestamp, 1.0, "2024-05-01T12:00:00.5", "1714564800.5");
        check(Timestamp, 1.0, "1714564800", "1714564800");
        check(Timestamp, 1.0, "1714564800123", "1714564800.123");
        check(
            Timestamp,
            1.0,
            "2024-13-01 12:00:00",
            "error: must be unix seconds…",
        );
        check(Timestamp, 1.0, "yesterday", "error: must be unix seconds…");
        assert_eq!(
            convert(Timestamp, 1.0, &Raw::Unsigned(1_714_564_800_123_456_789)),
            Ok(Some(FieldValue::Real(1_714_564_800.123_456_7)))
        );
    }

    #[test]
    fn trimmed_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            "2024-05-01T12:00:00Z",
            " 12 ",
            "\t12",
            "12\n",
            "\u{a0}12",
            "12\u{2003}",
            "\u{3000}",
            "é",
            " é ",
            "x\u{a0}",
            "\u{85}5",
        ] {
            assert_eq!(trimmed(text), text.trim(), "{text:?}");
        }
    }

    /// One of `usual`, or one in eight times one of `odd`.
    fn pick<'a>(rng: &mut Rng, usual: &[&'a str], odd: &[&'a str]) -> &'a str {
        if rng.below(8) == 0 {
            rng.pick(odd)
        } else {
            rng.pick(usual)
        }
    }

    /// Generated date-times, each after one that shares its first 16 bytes (the cached minute)
    /// or its first 10 (the cached date) and differs after them: the fast reader gives what it
    /// gives with empty caches, and what the general parser gives; `date_time_seconds` gives
    /// what the general parser gives for every text, and a second thread, its caches filled in
    /// another order, reads each text alike.
    #[test]
    fn generated_date_times_read_alike_whatever_the_caches_hold() {
        let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
        let mut texts = Vec::new();
        for _ in 0..3000 {
            let year = pick(
                &mut rng,
                &["1970", "2000", "2024", "2023", "9999"],
                &["1969", "0000", "1900", "20x4"],
            );
            let month = pick(&mut rng, &["01", "02", "05", "12"], &["00", "13", "1a"]);
            let day = pick(
                &mut rng,
                &["01", "28", "29", "30", "31"],
                &["00", "32", "3 "],
            );
            let separator = pick(&mut rng, &["T", " "], &["t", "_", "TT"]);
            let hour = pick(
                &mut rng,
                &["00", "12", "21", "22", "23"],
                &["24", "99", "0:"],
            );
            let minute = pick(&mut rng, &["00", "30", "59"], &["60", "5x"]);
            let base = format!("{year}-{month}-{day}{separator}{hour}:{minute}");
            // Several texts after the same minute: what follows it is where they differ.
            for _ in 0..1 + rng.below(5) {
                let second = pick(
                    &mut rng,
                    &["00", "01", "07", "59"],
                    &["60", "61", "5", "x0"],
                );
                let colon = pick(&mut rng, &[":"], &["-", "x", ""]);
                let digits = pick(
                    &mut rng,
                    &["0", "5", "25", "250", "000000000", "123456789", "999999999"],
                    &["", "1234567890", "0000000000", "5x"],
                );
                let fraction = match rng.below(4) {
                    0 => String::new(),
                    1 => format!(".{digits}"),
                    2 => format!(",{digits}"),
                    _ => pick(&mut rng, &[".5", ",5"], &[digits, "..5", ".,5"]).to_owned(),
                };
                let offset = pick(
                    &mut rng,
                    &["", "Z"],
                    &["z", "+00:00", "-01:30", " ", "ZZ", "Z "],
                );
                let mut text = format!("{base}{colon}{second}{fraction}{offset}");
                // Now and then one byte of the minute changed as well.
                if rng.below(6) == 0 {
                    let at = rng.below(16);
                    let bytes = b"0123456789-: TZx";
                    let mut edited = text.into_bytes();
                    if let Some(byte) = edited.get_mut(at) {
                        *byte = bytes[rng.below(bytes.len())];
                    }
                    text = String::from_utf8(edited).unwrap();
                }
                texts.push(text);
            }
        }
        let read = |texts: &[String]| -> Vec<Option<f64>> {
            texts
                .iter()
                .map(|text| common_date_time_seconds(text.as_bytes()))
                .collect()
        };
        let mut common = 0;
        let mut results = Vec::new();
        for text in &texts {
            let warm = common_date_time_seconds(text.as_bytes());
            LAST_MINUTE.set(None);
            LAST_DATE.set(None);
            let cold = common_date_time_seconds(text.as_bytes());
            assert_eq!(warm, cold, "{text}");
            let parsed = parsed_date_time_seconds(text);
            if warm.is_some() {
                common += 1;
                assert_eq!(warm, parsed, "{text}");
            }
            assert_eq!(date_time_seconds(text), parsed, "{text}");
            results.push(warm);
            // The caches now hold what this text put there, for the next one.
        }
        let reversed: Vec<String> = texts.iter().rev().cloned().collect();
        let mut other = std::thread::spawn(move || read(&reversed)).join().unwrap();
        other.reverse();
        assert_eq!(other, results);
        assert!(
            common > 1000,
            "{common} of {} read by the fast reader",
            texts.len()
        );
    }
}
