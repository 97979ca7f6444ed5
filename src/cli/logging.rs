//! The daemon's own log on stderr, in the two formats of Prometheus exporters (`--log.format`):
//! logfmt (`ts=… level=info msg=listening address=…`) and JSON (one object a line, the same keys).

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Installs the log at `level` (for this crate; other crates log warnings only) in `format`.
/// A second call (tests, demo after serve) keeps the first subscriber.
pub fn init(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::new(format!("mfu_exporter={level},warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Line { format })
        .try_init();
}

/// One event, one line.
struct Line {
    format: LogFormat,
}

/// A field's value: JSON keeps numbers and booleans as they are; logfmt writes them bare.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

/// The event's fields in order, the message apart.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    pairs: Vec<(&'static str, Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::Text(text)) => self.message = Some(text),
            (name, value) => self.pairs.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::Text(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Text(value.to_owned()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Number(value.into()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Number(value.into()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match serde_json::Number::from_f64(value) {
            Some(number) => self.push(field, Value::Number(number)),
            None => self.push(field, Value::Text(value.to_string())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let timestamp = format!("{:.3}", jiff::Timestamp::now());
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let line = match self.format {
            LogFormat::Logfmt => logfmt_line(&timestamp, &level, &fields),
            LogFormat::Json => json_line(&timestamp, &level, &fields),
        };
        writeln!(writer, "{line}")
    }
}

fn logfmt_line(timestamp: &str, level: &str, fields: &Fields) -> String {
    let mut line = format!("ts={timestamp} level={level}");
    if let Some(message) = &fields.message {
        line.push_str(" msg=");
        push_logfmt_value(&mut line, message);
    }
    for (name, value) in &fields.pairs {
        line.push(' ');
        line.push_str(name);
        line.push('=');
        match value {
            Value::Text(text) => push_logfmt_value(&mut line, text),
            Value::Number(number) => line.push_str(&number.to_string()),
            Value::Bool(flag) => line.push_str(if *flag { "true" } else { "false" }),
        }
    }
    line
}

/// A logfmt value: bare when it can be, else quoted with `\`, `"` and control characters escaped.
fn push_logfmt_value(line: &mut String, value: &str) {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if bare {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => line.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => line.push(c),
        }
    }
    line.push('"');
}

fn json_line(timestamp: &str, level: &str, fields: &Fields) -> String {
    let mut object = serde_json::Map::new();
    object.insert("ts".into(), timestamp.into());
    object.insert("level".into(), level.into());
    if let Some(message) = &fields.message {
        object.insert("msg".into(), message.clone().into());
    }
    for (name, value) in &fields.pairs {
        let value = match value {
            Value::Text(text) => serde_json::Value::String(text.clone()),
            Value::Number(number) => serde_json::Value::Number(number.clone()),
            Value::Bool(flag) => serde_json::Value::Bool(*flag),
        };
        object.insert((*name).to_owned(), value);
    }
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            message: Some("listening".into()),
            pairs: vec![
                ("address", Value::Text("127.0.0.1:10077".into())),
                ("model", Value::Text("llama 3 \"8b\"".into())),
                ("gpus", Value::Number(8.into())),
                ("poll", Value::Bool(false)),
                ("empty", Value::Text(String::new())),
            ],
        }
    }

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        assert_eq!(
            logfmt_line("2026-01-01T00:00:00.000Z", "info", &fields()),
            "ts=2026-01-01T00:00:00.000Z level=info msg=listening address=127.0.0.1:10077 \
             model=\"llama 3 \\\"8b\\\"\" gpus=8 poll=false empty=\"\""
        );
    }

    #[test]
    fn json_is_one_object_with_the_same_keys() {
        let line = json_line("2026-01-01T00:00:00.000Z", "warn", &fields());
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["ts"], "2026-01-01T00:00:00.000Z");
        assert_eq!(value["level"], "warn");
        assert_eq!(value["msg"], "listening");
        assert_eq!(value["model"], "llama 3 \"8b\"");
        assert_eq!(value["gpus"], 8);
        assert_eq!(value["poll"], false);
        assert!(!line.contains('\n'));
    }
}
