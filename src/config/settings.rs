//! `serve`'s settings, each defined once: one struct per TOML table whose fields are at the same
//! time the flags (`--web.listen-address`) and the keys (`[web] listen_address`), their help text
//! the doc comments, their defaults in [`defaults`], their domain types parsed by `FromStr` for both.
//!
//! A flag is `--{table}.{key}` with `-` for `_` (`--push.max-body-bytes` is `[push]
//! max_body_bytes`); top-level keys and the `[model]`/`[hardware]` keys drop the table
//! (`--state-file`, `--seq-len`). `[[tail]]` keys that a flag cannot carry (`fields`) have none.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Deserializer};

use crate::accounting::Formula;
use crate::ingest::tail::ReadFrom;
use crate::resolve::{HardwareSettings, ModelSettings};
use crate::setting::{merge_fields, Merge, Parsed};
use crate::state::ThroughputScope;

/// Every setting of `serve`, as the flags give them and as the config file gives them: the same
/// struct for both, merged by [`Merge`] (flags over the file). The file's `[[tail]]` tables are
/// [`ServeSettings::tail`]; the `--tail.*` flags are [`ServeSettings::tail_flags`], one tail that
/// replaces the file's list when it has `--tail.path` and otherwise applies over each of them.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    #[command(flatten)]
    #[serde(default)]
    pub model: ServeModelSettings,
    #[command(flatten)]
    #[serde(default)]
    pub hardware: HardwareSettings,
    #[command(flatten)]
    #[serde(default)]
    pub web: WebSettings,
    #[command(flatten)]
    #[serde(default)]
    pub log: LogSettings,
    #[command(flatten)]
    #[serde(default)]
    pub push: PushSettings,
    /// File that keeps each log's read position across restarts (written atomically).
    #[arg(long = "state-file", value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// A run without new data for this long is stale: its rate gauges disappear.
    #[arg(long = "stale-after", value_name = "DURATION")]
    pub stale_after: Option<Parsed<Interval>>,
    /// The config file's `[[tail]]` tables, one run each.
    #[arg(skip)]
    #[serde(default)]
    pub tail: Vec<TailSettings>,
    /// The `--tail.*` flags.
    #[command(flatten)]
    #[serde(skip)]
    pub tail_flags: TailSettings,
}

/// `[model]`: the model settings every command shares, and the `formula` label values `serve`
/// exports.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct ServeModelSettings {
    #[command(flatten)]
    pub model: ModelSettings,
    /// The `formula` label values to export, comma-separated: palm, detailed, torchtitan,
    /// megatron, maxtext, olmo_core, nanogpt.
    #[arg(long, value_name = "NAMES")]
    pub formula: Option<Parsed<Formulas>>,
}

merge_fields!(ServeModelSettings { model, formula });

/// The `[model]` table is [`ModelSettings`]' keys and `formula`: `formula` is taken out, the rest
/// read as `ModelSettings` (which refuses unknown keys).
impl<'de> Deserialize<'de> for ServeModelSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let formula = table
            .remove("formula")
            .map(Parsed::<Formulas>::deserialize)
            .transpose()
            .map_err(|e| D::Error::custom(e.message()))?;
        let model = ModelSettings::deserialize(toml::Value::Table(table)).map_err(|e| {
            let message = e.message();
            match message.strip_prefix("unknown field") {
                // The keys serde lists are `ModelSettings`'; `formula` is one too.
                Some(_) => D::Error::custom(format!("{message}, or `formula`")),
                None => D::Error::custom(message),
            }
        })?;
        Ok(ServeModelSettings { model, formula })
    }
}

/// `[web]`, `--web.*`: the HTTP server.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// Address to listen on for /metrics and pushes.
    #[arg(long = "web.listen-address", value_name = "ADDRESS")]
    pub listen_address: Option<String>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub telemetry_path: Option<String>,
    /// Most connections served at once; past it a new connection closes the oldest idle one.
    #[arg(long = "web.max-connections", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Bounds reading a request, waiting on an idle connection and writing a response.
    #[arg(long = "web.request-timeout", value_name = "DURATION")]
    pub request_timeout: Option<Parsed<Interval>>,
    /// Answer `/-/ready` with 200 even while no tailed log file can be read (by default it is
    /// 503 then, naming the path).
    #[arg(long = "web.ready-without-logs")]
    #[serde(default)]
    pub ready_without_logs: bool,
    /// The Prometheus exporter-toolkit web config file (YAML): TLS (`tls_server_config`) and
    /// basic auth (`basic_auth_users`, bcrypt hashes) on every route. Read at start-up.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
}

merge_fields!(WebSettings {
    listen_address,
    telemetry_path,
    max_connections,
    request_timeout,
    ready_without_logs,
    config_file
});

/// `[log]`, `--log.*`: the daemon's own log.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Log level: error, warn, info, debug or trace.
    #[arg(long = "log.level", value_name = "LEVEL")]
    pub level: Option<String>,
    /// Log format of the daemon's own log: logfmt or json.
    #[arg(id = "log.format", long = "log.format", value_name = "FORMAT")]
    pub format: Option<Parsed<LogFormat>>,
}

merge_fields!(LogSettings { level, format });

/// `[push]`, `--push.*`: the push route.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// File holding the bearer token pushes must present.
    #[arg(long = "push.token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Accept pushes without a token from non-loopback clients.
    #[arg(long = "push.allow-remote")]
    #[serde(default)]
    pub allow_remote: bool,
    /// Largest push body accepted, in bytes.
    #[arg(long = "push.max-body-bytes", value_name = "BYTES")]
    pub max_body_bytes: Option<u64>,
    /// Most push body bytes held at once, over all pushes; past it a push gets 503.
    #[arg(long = "push.max-inflight-bytes", value_name = "BYTES")]
    pub max_inflight_bytes: Option<u64>,
    /// A pushed run expires after this long without pushes.
    #[arg(long = "push.expire-after", value_name = "DURATION")]
    pub expire_after: Option<Parsed<Interval>>,
    /// Most pushed runs at once; a push that would create another gets 429.
    #[arg(long = "push.max-runs", value_name = "N")]
    pub max_runs: Option<usize>,
}

merge_fields!(PushSettings {
    token_file,
    allow_remote,
    max_body_bytes,
    max_inflight_bytes,
    expire_after,
    max_runs
});

/// One tailed run (`[[tail]]`, `--tail.*`): a path or glob (or several), and how to read its lines.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSettings {
    /// A training log to tail: a path or a glob (repeatable; one run).
    #[arg(long = "tail.path", value_name = "PATH|GLOB")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub path: Vec<String>,
    /// Run name of the --tail.path logs.
    #[arg(long = "tail.run", value_name = "NAME")]
    pub run: Option<String>,
    /// Where to start in logs that exist at start-up without a saved position: beginning or end.
    #[arg(long = "tail.read-from", value_name = "WHERE")]
    pub read_from: Option<Parsed<ReadFrom>>,
    /// What the logged throughput covers: global, per-gpu or per-file.
    #[arg(long = "tail.throughput-scope", value_name = "SCOPE")]
    pub throughput_scope: Option<Parsed<ThroughputScope>>,
    /// The log format: a built-in name (`mfu-exporter formats` lists them) or the path of a
    /// format file.
    #[arg(id = "tail.format", long = "tail.format", value_name = "NAME|PATH")]
    pub format: Option<String>,
    /// Global tokens per optimizer step, for logs that give only step times (nanoGPT).
    #[arg(long = "tail.tokens-per-step", value_name = "N")]
    pub tokens_per_step: Option<f64>,
    /// Records (lines or blocks) after a start or a restart whose tokens count but whose rates
    /// stay out of the gauges (compilation, warm-up); 0 turns it off.
    #[arg(long = "tail.warmup-steps", value_name = "N")]
    pub warmup_steps: Option<u32>,
    /// Poll logs once a second instead of using file-system events (NFS and other
    /// file systems without events).
    #[arg(long = "tail.poll")]
    #[serde(default)]
    pub poll: bool,
    /// The longest line read, in bytes; longer ones are skipped and counted.
    #[arg(long = "tail.max-line-bytes", value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,
    /// How the trainer writes its own MFU: ratio (0..1) or percent (0..100).
    #[arg(long = "tail.mfu-unit", value_name = "UNIT")]
    pub mfu_unit: Option<Parsed<MfuUnit>>,
    /// Field mapping overrides: field name → path, list of paths, or {path, scale}. No flag.
    #[arg(skip)]
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValue>,
}

merge_fields!(TailSettings {
    path,
    run,
    read_from,
    throughput_scope,
    format,
    tokens_per_step,
    warmup_steps,
    poll,
    max_line_bytes,
    mfu_unit,
    fields
});

/// `path = "..."` or `path = ["...", "..."]`.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// Where a `[tail.fields]` entry reads its field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Path(String),
    Paths(Vec<String>),
    Spec { path: String, scale: f64 },
}

/// Every default of `serve`, defined once: resolution takes them from here, and `--help` and the
/// README show them ([`shown_defaults`], checked against both by tests).
pub mod defaults {
    use std::time::Duration;

    use super::{Interval, LogFormat, MfuUnit};
    use crate::accounting::Formula;
    use crate::ingest::tail::ReadFrom;

    /// The default port: outside 9100–9999, which Prometheus's default-port list has filled.
    pub const PORT: u16 = 10077;
    pub const LISTEN_ADDRESS: &str = "0.0.0.0:10077";
    pub const TELEMETRY_PATH: &str = "/metrics";
    /// Far more than Prometheus and a few pushers need, and with the descriptor reserve within
    /// the common open-file limit of 1024.
    pub const MAX_CONNECTIONS: usize = 512;
    pub const REQUEST_TIMEOUT: Interval = Interval(Duration::from_secs(10));
    pub const LOG_LEVEL: &str = "info";
    pub const LOG_FORMAT: LogFormat = LogFormat::Logfmt;
    pub const STALE_AFTER: Interval = Interval(Duration::from_secs(300));
    pub const PUSH_MAX_BODY_BYTES: u64 = 1 << 20;
    /// Sixteen pushes of the largest default size.
    pub const PUSH_MAX_INFLIGHT_BYTES: u64 = 16 << 20;
    pub const PUSH_EXPIRE_AFTER: Interval = Interval(Duration::from_secs(3600));
    pub const PUSH_MAX_RUNS: usize = 100;
    pub const TAIL_RUN: &str = "default";
    pub const TAIL_READ_FROM: ReadFrom = ReadFrom::End;
    pub const TAIL_FORMAT: &str = crate::ingest::format::DEFAULT_FORMAT;
    pub const TAIL_MAX_LINE_BYTES: usize = crate::ingest::tail::DEFAULT_MAX_LINE_BYTES;
    pub const TAIL_MFU_UNIT: MfuUnit = MfuUnit::Ratio;
    /// Records kept out of the rate gauges after a start or a restart when neither the setting
    /// nor the format says: the first one, which holds compilation and start-up in every trainer
    /// we read.
    pub const TAIL_WARMUP_RECORDS: u32 = 1;
    pub const FORMULAS: [Formula; 2] = Formula::DEFAULT;
}

/// Each flag with a default, and the default as `--help` (appended as `[default: ...]`) and the
/// README's table of `serve`'s flags show it.
pub fn shown_defaults() -> Vec<(&'static str, String)> {
    use defaults::*;
    vec![
        ("--formula", Formulas(FORMULAS.to_vec()).to_string()),
        ("--web.listen-address", LISTEN_ADDRESS.to_owned()),
        ("--web.telemetry-path", TELEMETRY_PATH.to_owned()),
        ("--web.max-connections", MAX_CONNECTIONS.to_string()),
        ("--web.request-timeout", REQUEST_TIMEOUT.to_string()),
        ("--log.level", LOG_LEVEL.to_owned()),
        ("--log.format", LOG_FORMAT.to_string()),
        ("--tail.run", TAIL_RUN.to_owned()),
        ("--tail.read-from", TAIL_READ_FROM.to_string()),
        ("--tail.throughput-scope", "as the format says".to_owned()),
        ("--tail.format", TAIL_FORMAT.to_owned()),
        ("--tail.max-line-bytes", TAIL_MAX_LINE_BYTES.to_string()),
        ("--tail.mfu-unit", TAIL_MFU_UNIT.to_string()),
        (
            "--tail.warmup-steps",
            format!("the format's, else {TAIL_WARMUP_RECORDS}"),
        ),
        ("--stale-after", STALE_AFTER.to_string()),
        ("--push.max-body-bytes", PUSH_MAX_BODY_BYTES.to_string()),
        (
            "--push.max-inflight-bytes",
            PUSH_MAX_INFLIGHT_BYTES.to_string(),
        ),
        ("--push.expire-after", PUSH_EXPIRE_AFTER.to_string()),
        ("--push.max-runs", PUSH_MAX_RUNS.to_string()),
    ]
}

/// `command` with `[default: ...]` appended to the help of each flag of `defaults` it has
/// ([`shown_defaults`], [`crate::resolve::shown_defaults`]).
pub fn with_shown_defaults(
    mut command: clap::Command,
    defaults: &[(&'static str, String)],
) -> clap::Command {
    for (flag, default) in defaults {
        let id = command
            .get_arguments()
            .find(|arg| arg.get_long().map(|long| format!("--{long}")).as_deref() == Some(*flag))
            .map(|arg| arg.get_id().clone());
        if let Some(id) = id {
            command = command.mut_arg(id, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [default: {default}]"))
            });
        }
    }
    command
}

/// A duration setting (`"30s"`, `"5m"`, `"1h"`), longer than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Interval, String> {
        match humantime::parse_duration(text) {
            Ok(duration) if !duration.is_zero() => Ok(Interval(duration)),
            Ok(_) => Err("must be longer than zero; write e.g. \"5m\"".into()),
            Err(e) => Err(format!(
                "{e}; write a duration such as \"30s\", \"5m\" or \"1h\""
            )),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// The `formula` label values exported (`--formula`, `[model] formula`): known names, each once,
/// at least one, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formulas(pub Vec<Formula>);

impl FromStr for Formulas {
    type Err = String;

    fn from_str(text: &str) -> Result<Formulas, String> {
        let known = || {
            Formula::all()
                .iter()
                .map(|f| f.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut formulas = Vec::new();
        for name in text.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(format!(
                    "an empty name; list formulas separated by commas, e.g. \"palm,detailed,megatron\" (known: {})",
                    known()
                ));
            }
            let Some(formula) = Formula::from_label(name) else {
                return Err(format!("unknown formula {name:?}; use some of {}", known()));
            };
            if formulas.contains(&formula) {
                return Err(format!("{name:?} is listed twice; list each formula once"));
            }
            formulas.push(formula);
        }
        Ok(Formulas(formulas))
    }
}

impl fmt::Display for Formulas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<&str> = self.0.iter().map(|formula| formula.label()).collect();
        f.write_str(&labels.join(","))
    }
}

/// How the daemon writes its own log (`--log.format`), as Prometheus exporters do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs, one event a line (the default).
    #[default]
    Logfmt,
    /// One JSON object a line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "logfmt" => Ok(LogFormat::Logfmt),
            "json" => Ok(LogFormat::Json),
            _ => Err("use logfmt or json".into()),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            LogFormat::Logfmt => "logfmt",
            LogFormat::Json => "json",
        })
    }
}

/// How a trainer writes its own MFU (`mfu_unit`): a ratio 0..1 or a percentage 0..100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfuUnit {
    Ratio,
    Percent,
}

impl FromStr for MfuUnit {
    type Err = String;

    fn from_str(text: &str) -> Result<MfuUnit, String> {
        match text {
            "ratio" => Ok(MfuUnit::Ratio),
            "percent" => Ok(MfuUnit::Percent),
            _ => Err("use ratio (0..1) or percent (0..100)".into()),
        }
    }
}

impl fmt::Display for MfuUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            MfuUnit::Ratio => "ratio",
            MfuUnit::Percent => "percent",
        })
    }
}

impl ServeSettings {
    /// These settings where given, `fallback`'s elsewhere (flags over the file), table by table.
    /// The `[[tail]]` list is the fallback's; [`ServeSettings::tail_flags`] are kept as they are,
    /// for resolution to apply over each tail.
    pub fn or(self, fallback: ServeSettings) -> ServeSettings {
        ServeSettings {
            model: self.model.merge(fallback.model),
            hardware: self.hardware.merge(fallback.hardware),
            web: self.web.merge(fallback.web),
            log: self.log.merge(fallback.log),
            push: self.push.merge(fallback.push),
            state_file: self.state_file.merge(fallback.state_file),
            stale_after: self.stale_after.merge(fallback.stale_after),
            tail: fallback.tail,
            tail_flags: self.tail_flags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve`'s flags as `--help` has them: (long name, value name, help).
    fn serve_flags() -> Vec<(String, Option<String>, String)> {
        let command = crate::cli::command();
        let serve = command
            .find_subcommand("serve")
            .expect("a serve subcommand")
            .clone();
        serve
            .get_arguments()
            .filter_map(|arg| {
                let long = arg.get_long()?;
                let value = arg
                    .get_value_names()
                    .and_then(|names| names.first())
                    .map(ToString::to_string);
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                Some((format!("--{long}"), value, help))
            })
            .filter(|(long, _, _)| long != "--config" && long != "--help")
            .collect()
    }

    /// The TOML key a flag names: `--push.max-body-bytes` is `push.max_body_bytes`,
    /// `--state-file` is `state_file`, `--seq-len` is `model.seq_len`.
    fn key_of(flag: &str) -> String {
        let name = flag.trim_start_matches("--").replace('-', "_");
        let model = [
            "model",
            "seq_len",
            "attention",
            "recompute",
            "mtp",
            "formula",
        ];
        let hardware = ["gpu", "dtype", "gpus", "peak_tflops"];
        if model.contains(&name.as_str()) {
            return format!("model.{name}");
        }
        if hardware.contains(&name.as_str()) {
            return format!("hardware.{name}");
        }
        // `--web.config.file` is `[web] config_file`.
        match name.split_once('.') {
            Some((table, key)) => format!("{table}.{}", key.replace('.', "_")),
            None => name,
        }
    }

    /// The keys a table of the file takes, as serde lists them when refusing an unknown one.
    fn keys_of_table(table: &str) -> Vec<String> {
        let text = match table {
            "" => "zz_unknown = 1\n".to_owned(),
            "tail" => "[[tail]]\nzz_unknown = 1\n".to_owned(),
            table => format!("[{table}]\nzz_unknown = 1\n"),
        };
        let (_, problems) = crate::config::parse_file_with_problems(&text).unwrap();
        let problem = problems.join("\n");
        let listed = problem
            .split_once(", expected ")
            .map(|(_, listed)| listed)
            .unwrap_or_else(|| panic!("{problem}"));
        listed
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|key| match table {
                "" => key.to_owned(),
                table => format!("{table}.{key}"),
            })
            .collect()
    }

    /// One definition per setting: every flag of `serve` is a key of the file, and every key of
    /// the file (but `[tail.fields]`, a map no flag can carry, and the tables themselves) a
    /// flag, by the naming rule of this module's header.
    #[test]
    fn every_flag_is_a_file_key_and_every_file_key_a_flag() {
        let flags: Vec<String> = serve_flags().into_iter().map(|(long, ..)| long).collect();
        let mut keys = Vec::new();
        for table in ["", "model", "hardware", "web", "log", "push", "tail"] {
            keys.extend(keys_of_table(table));
        }
        let tables = ["model", "hardware", "web", "log", "push", "tail"];
        keys.retain(|key| !tables.contains(&key.as_str()) && key != "tail.fields");
        assert!(keys.contains(&"web.listen_address".to_owned()), "{keys:?}");
        assert!(keys.contains(&"model.formula".to_owned()), "{keys:?}");
        for flag in &flags {
            assert!(
                keys.contains(&key_of(flag)),
                "{flag} has no file key {} (keys: {keys:?})",
                key_of(flag)
            );
        }
        let flag_keys: Vec<String> = flags.iter().map(|flag| key_of(flag)).collect();
        for key in &keys {
            assert!(
                flag_keys.contains(key),
                "the file key {key} has no flag (flags: {flags:?})"
            );
        }
        assert_eq!(flags.len(), keys.len(), "{flags:?}\n{keys:?}");
    }

    /// The README's tables of `serve`'s flags name every flag, each default as the one table of
    /// defaults has it, and the example config file there uses keys that all have flags.
    #[test]
    fn the_readme_lists_every_flag_with_its_default() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        // (flags named in the first cell, the second cell) of every table row naming a flag.
        let rows: Vec<(Vec<String>, String)> = readme
            .lines()
            .filter(|line| line.starts_with("| `--"))
            .map(|line| {
                let cells: Vec<&str> = line.split(" | ").collect();
                let first = cells.first().copied().unwrap_or_default();
                let named = first
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .filter_map(|code| code.split_whitespace().next())
                    .filter(|flag| flag.starts_with("--"))
                    .map(str::to_owned)
                    .collect();
                let default = cells.get(1).copied().unwrap_or_default().replace('`', "");
                (named, default.trim().to_owned())
            })
            .collect();
        for (flag, _, _) in serve_flags() {
            assert!(
                rows.iter().any(|(named, _)| named.contains(&flag)),
                "README.md has no row for {flag}"
            );
        }
        for (flag, default) in shown_defaults() {
            let row = rows
                .iter()
                .find(|(named, _)| named.first() == Some(&flag.to_owned()))
                .unwrap_or_else(|| panic!("README.md has no row starting with {flag}"));
            assert_eq!(row.1, default, "README.md's default of {flag}");
        }
        let example = readme
            .split("can hold several sources:\n\n```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the README's example config");
        let (_, problems) = crate::config::parse_file_with_problems(example).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let flag_keys: Vec<String> = serve_flags()
            .iter()
            .map(|(long, ..)| key_of(long))
            .collect();
        let mut table = String::new();
        for line in example.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if let Some(name) = line.strip_prefix('[') {
                table = name.trim_matches(['[', ']']).to_owned();
                continue;
            }
            let Some((key, _)) = line.split_once('=') else {
                continue;
            };
            if table == "tail.fields" {
                continue;
            }
            let key = match table.as_str() {
                "" => key.trim().to_owned(),
                table => format!("{table}.{}", key.trim()),
            };
            assert!(flag_keys.contains(&key), "{key} has no flag");
        }
    }

    /// `--help` shows each default from the tables, once.
    #[test]
    fn help_shows_each_default_once() {
        let flags = serve_flags();
        let mut shown = shown_defaults();
        shown.extend(crate::resolve::shown_defaults());
        for (flag, default) in shown {
            let (_, _, help) = flags
                .iter()
                .find(|(long, ..)| long == flag)
                .unwrap_or_else(|| panic!("no {flag}"));
            assert!(
                help.ends_with(&format!("[default: {default}]")),
                "{flag}: {help}"
            );
            assert_eq!(help.matches("[default:").count(), 1, "{flag}: {help}");
        }
    }

    /// `logs` and `demo` take the settings they share with `serve` under the same names.
    #[test]
    fn logs_and_demo_name_shared_settings_as_serve_does() {
        let serve = serve_flags();
        let command = crate::cli::command();
        for name in ["logs", "demo"] {
            let subcommand = command.find_subcommand(name).expect(name);
            for arg in subcommand.get_arguments() {
                let Some(long) = arg.get_long() else {
                    continue;
                };
                let mut names = vec![format!("--{long}")];
                names.extend(
                    arg.get_all_aliases()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|alias| format!("--{alias}")),
                );
                let value = arg
                    .get_value_names()
                    .and_then(|names| names.first())
                    .map(ToString::to_string);
                for flag in names {
                    if let Some((_, serve_value, _)) = serve.iter().find(|(l, ..)| *l == flag) {
                        assert_eq!(&value, serve_value, "{name} {flag}");
                    } else {
                        assert!(
                            !flag.contains('.'),
                            "{name} {flag} looks like a serve setting that serve lacks"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn each_choice_reads_back_what_it_displays() {
        for scope in ["global", "per-gpu", "per-file"] {
            assert_eq!(scope.parse::<ThroughputScope>().unwrap().as_str(), scope);
        }
        for from in [ReadFrom::Beginning, ReadFrom::End] {
            assert_eq!(from.to_string().parse::<ReadFrom>().unwrap(), from);
        }
        for format in [LogFormat::Logfmt, LogFormat::Json] {
            assert_eq!(format.to_string().parse::<LogFormat>().unwrap(), format);
        }
        for unit in [MfuUnit::Ratio, MfuUnit::Percent] {
            assert_eq!(unit.to_string().parse::<MfuUnit>().unwrap(), unit);
        }
        let all = Formulas(Formula::all());
        assert_eq!(all.to_string().parse::<Formulas>().unwrap(), all);
        for interval in [defaults::STALE_AFTER, defaults::REQUEST_TIMEOUT] {
            assert_eq!(interval.to_string().parse::<Interval>().unwrap(), interval);
        }
        assert!("0s".parse::<Interval>().is_err());
        assert!("bogus"
            .parse::<ThroughputScope>()
            .unwrap_err()
            .contains("per-gpu"));
    }
}
