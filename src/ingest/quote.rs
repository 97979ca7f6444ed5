//! How messages quote outside input: escaped and cut short, so that a hostile line or key never
//! floods a log or an HTTP answer.

/// The longest stretch of a hostile value that a message quotes.
const QUOTE_LIMIT_CHARS: usize = 64;

/// Quotes text for a message, escaped, and cut to [`QUOTE_LIMIT_CHARS`] characters with a trailing
/// `...`.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}...", text.get(..cut).unwrap_or_default()),
    }
}

/// The text itself, cut to [`QUOTE_LIMIT_CHARS`] characters with a trailing `...`, for values a
/// message formats with `{:?}` itself.
pub fn cut(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
    }
}

/// A message from a parser (`unknown field `...`, expected ...`) with every stretch between
/// backticks cut to [`QUOTE_LIMIT_CHARS`] characters: the parser quotes the input's own keys.
pub fn cut_backticked(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                cut(part)
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// A float for a message: plain digits for everyday magnitudes, exponent notation for extreme ones.
pub fn float_text(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e16).contains(&magnitude) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        let long = "x".repeat(1000);
        assert_eq!(quote(&long), format!("{:?}...", "x".repeat(64)));
        assert_eq!(cut(&long).len(), 67);
        assert_eq!(float_text(1e300), "1e300");
        assert_eq!(float_text(0.25), "0.25");
    }
}
