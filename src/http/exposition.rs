//! The metrics response as the scraper asks for it: the Prometheus text format (0.0.4) or
//! OpenMetrics 1.0.0 by `Accept`, gzip-compressed by `Accept-Encoding`.
//!
//! The metrics are rendered once, in the text format; OpenMetrics is a rewrite of those lines
//! ([`to_openmetrics`]): a counter's family is named without `_total` while its samples keep it
//! (and gain it where the name lacks it), `untyped` becomes `unknown`, HELP escapes `"`, blank
//! and other comment lines go, and `# EOF` ends the exposition.

use std::io::Write as _;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY,
};
use hyper::{Response, StatusCode};

use super::METRICS_CONTENT_TYPE;

/// The content type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of OpenMetrics 0.0.1, the version Prometheus 2.x asked for first; the same
/// text as 1.0.0 for what this exporter writes.
const OPENMETRICS_0_0_1_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=0.0.1; charset=utf-8";

/// The exposition formats a scraper can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
    /// OpenMetrics, as asked for with `version=0.0.1`.
    OpenMetrics001,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => METRICS_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::OpenMetrics001 => OPENMETRICS_0_0_1_CONTENT_TYPE,
        }
    }
}

/// The 200 response holding `text` (the text-format exposition) in the format and encoding the
/// request's headers ask for. The text format is sent as it was rendered, without a copy.
pub fn respond(headers: &HeaderMap, text: String) -> Response<Full<Bytes>> {
    let format = negotiate(header_text(headers, &ACCEPT));
    let body = match format {
        Format::Text => text.into_bytes(),
        Format::OpenMetrics | Format::OpenMetrics001 => to_openmetrics(&text).into_bytes(),
    };
    let compressed = accepts_gzip(header_text(headers, &ACCEPT_ENCODING))
        .then(|| gzip_bytes(&body))
        .flatten();
    let gzipped = compressed.is_some();
    let mut response = Response::new(Full::new(Bytes::from(compressed.unwrap_or(body))));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if gzipped {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn header_text<'a>(headers: &'a HeaderMap, name: &hyper::header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A media range (or a content coding) and its parameters, keys lowercased.
type Range = (String, Vec<(String, String)>);

/// The media ranges of a header such as `Accept`, each with its parameters, highest `q` first
/// (ties keep their order); ranges with `q=0` are left out.
fn ranges(header: &str) -> Vec<Range> {
    let mut ranges: Vec<(f64, Range)> = header
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next()?.to_ascii_lowercase();
            if media.is_empty() {
                return None;
            }
            let params: Vec<(String, String)> = parts
                .filter_map(|param| {
                    let (key, value) = param.split_once('=')?;
                    Some((
                        key.trim().to_ascii_lowercase(),
                        value.trim().trim_matches('"').to_owned(),
                    ))
                })
                .collect();
            let q = params
                .iter()
                .find(|(key, _)| key == "q")
                .map_or(Some(1.0), |(_, value)| value.parse::<f64>().ok())?;
            (q > 0.0).then_some((q, (media, params)))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.into_iter().map(|(_, range)| range).collect()
}

/// The format for an `Accept` header: the first range (by `q`) that names a format this exporter
/// writes; the text format when none does, or when there is no header.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    for (media, params) in ranges(accept) {
        let version = params
            .iter()
            .find(|(key, _)| key == "version")
            .map(|(_, value)| value.as_str());
        match (media.as_str(), version) {
            ("application/openmetrics-text", None | Some("1.0.0")) => return Format::OpenMetrics,
            ("application/openmetrics-text", Some("0.0.1")) => return Format::OpenMetrics001,
            ("text/plain", None | Some("0.0.4")) | ("*/*" | "text/*", _) => return Format::Text,
            _ => {}
        }
    }
    Format::Text
}

/// Whether an `Accept-Encoding` header accepts gzip.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|header| ranges(header).iter().any(|(coding, _)| coding == "gzip"))
}

fn gzip_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// Rewrites a text-format exposition as OpenMetrics 1.0.0 (see the module's doc).
pub fn to_openmetrics(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // The HELP line waiting for its TYPE line, which may rename the family.
    let mut help: Option<(&str, &str)> = None;
    // The current counter whose samples lack `_total`, if it is one.
    let mut counter_without_total: Option<&str> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take());
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            counter_without_total = None;
            let (family, kind) = match kind.trim() {
                "counter" => match name.strip_suffix("_total") {
                    Some(family) => (family, "counter"),
                    None => {
                        counter_without_total = Some(name);
                        (name, "counter")
                    }
                },
                "untyped" => (name, "unknown"),
                other => (name, other),
            };
            match help.take() {
                Some((help_name, help_text)) if help_name == name => {
                    flush_help(&mut out, Some((family, help_text)));
                }
                other => flush_help(&mut out, other),
            }
            out.push_str("# TYPE ");
            out.push_str(family);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        flush_help(&mut out, help.take());
        match counter_without_total {
            Some(name)
                if line
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', ' '])) =>
            {
                out.push_str(name);
                out.push_str("_total");
                out.push_str(&line[name.len()..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    flush_help(&mut out, help.take());
    out.push_str("# EOF\n");
    out
}

/// Writes a HELP line in OpenMetrics' escaping (`"` escaped as well as `\` and new lines).
fn flush_help(out: &mut String, help: Option<(&str, &str)>) {
    let Some((name, text)) = help else { return };
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    // The text format has escaped `\` and new lines already; only `"` is left.
    for c in text.chars() {
        if c == '"' {
            out.push_str("\\\"");
        } else {
            out.push(c);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_negotiate(accept: Option<&str>, expected: Format) {
        assert_eq!(negotiate(accept), expected, "{accept:?}");
    }

    #[test]
    fn the_format_follows_accept() {
        // Prometheus 2.x's scrape Accept header (scrape/scrape.go, acceptHeader, v2.42).
        check_negotiate(
            Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::OpenMetrics,
        );
        check_negotiate(
            Some("application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::OpenMetrics001,
        );
        check_negotiate(
            Some("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.9"),
            Format::OpenMetrics,
        );
        check_negotiate(
            Some("application/openmetrics-text;q=0,text/plain"),
            Format::Text,
        );
        check_negotiate(
            Some("application/openmetrics-text;version=9.9.9,*/*;q=0.1"),
            Format::Text,
        );
        check_negotiate(Some("text/html"), Format::Text);
        check_negotiate(Some("*/*"), Format::Text);
        check_negotiate(None, Format::Text);
    }

    #[test]
    fn gzip_follows_accept_encoding() {
        for (header, expected) in [
            (Some("gzip"), true),
            (Some("deflate, gzip;q=0.5"), true),
            (Some("GZIP"), true),
            (Some("gzip;q=0"), false),
            (Some("identity"), false),
            (Some("br"), false),
            (None, false),
        ] {
            assert_eq!(accepts_gzip(header), expected, "{header:?}");
        }
    }

    #[test]
    fn counters_lose_total_in_their_family_name_only() {
        let text =
            "# HELP a_total Things \"done\".\n# TYPE a_total counter\na_total{x=\"1\"} 3\n\n\
                    # HELP b Bare counter.\n# TYPE b counter\nb 2\nb_created 1\n\
                    # HELP c Gauge.\n# TYPE c gauge\nc NaN\n# TYPE d untyped\nd 1\n# a comment\n";
        assert_eq!(
            to_openmetrics(text),
            "# HELP a Things \\\"done\\\".\n# TYPE a counter\na_total{x=\"1\"} 3\n\
             # HELP b Bare counter.\n# TYPE b counter\nb_total 2\nb_created 1\n\
             # HELP c Gauge.\n# TYPE c gauge\nc NaN\n# TYPE d unknown\nd 1\n# EOF\n"
        );
    }
}
