//! `serve`'s configuration in two stages: what the user wrote (a TOML file and flags,
//! merged, flags win), then a validated, resolved [`ServeConfig`].
//!
//! Validation collects every problem and names each field with what would fix it, so
//! that a bad config stops start-up once, with the whole list.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::accounting::flops::{AttentionCounting, Recompute};
use crate::accounting::{Accounting, Formula};
use crate::http::web_config::{self, WebConfig};
use crate::ingest::format::{Format, DEFAULT_FORMAT};
use crate::ingest::mapping::{FieldPath, FieldSpec};
use crate::ingest::observation::Field;
use crate::ingest::tail::ReadFrom;
use crate::resolve::{self, HardwareSettings, ModelSettings, Names};
use crate::state::{RunSpec, ThroughputScope};

/// The default port: outside 9100–9999, which Prometheus's default-port list has filled.
pub const DEFAULT_PORT: u16 = 10077;
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:10077";

/// The config file as written. Unknown keys are errors, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub hardware: HardwareSection,
    #[serde(default)]
    pub web: WebSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub push: PushSection,
    pub stale_after: Option<String>,
    pub state_file: Option<PathBuf>,
    #[serde(default)]
    pub tail: Vec<TailSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub model: Option<String>,
    pub seq_len: Option<u64>,
    pub attention: Option<String>,
    pub recompute: Option<String>,
    pub mtp: Option<bool>,
    /// The `formula` label values exported, comma-separated (default `palm,detailed`).
    pub formula: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareSection {
    pub gpu: Option<String>,
    pub dtype: Option<String>,
    pub gpus: Option<u64>,
    pub peak_tflops: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
    pub max_connections: Option<usize>,
    pub request_timeout: Option<String>,
    pub ready_without_logs: Option<bool>,
    /// The exporter-toolkit web config file (TLS, basic auth).
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSection {
    pub token_file: Option<PathBuf>,
    pub allow_remote: Option<bool>,
    pub max_body_bytes: Option<u64>,
    pub max_inflight_bytes: Option<u64>,
    pub expire_after: Option<String>,
    pub max_runs: Option<usize>,
}

/// One tailed run: a path or glob (or several), and how to read its lines.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSection {
    #[serde(default)]
    pub path: OneOrMany,
    pub run: Option<String>,
    pub throughput_scope: Option<String>,
    pub read_from: Option<String>,
    pub poll: Option<bool>,
    pub max_line_bytes: Option<usize>,
    /// `percent` when the trainer's `mfu` is 0..100.
    pub mfu_unit: Option<String>,
    /// A built-in format name or the path of a format file.
    pub format: Option<String>,
    /// Global tokens per optimizer step, for logs that give only step times.
    pub tokens_per_step: Option<f64>,
    /// Records after a start or a restart kept out of the rate gauges.
    pub warmup_steps: Option<u32>,
    /// Field mapping overrides: field name → path, list of paths, or {path, scale}.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Path(String),
    Paths(Vec<String>),
    Spec { path: String, scale: f64 },
}

/// What the flags say; `None` where a flag was not given.
#[derive(Debug, Default, Clone)]
pub struct FlagConfig {
    /// `--model`, `--seq-len`, `--attention`, `--recompute`, `--mtp`.
    pub model: ModelSettings,
    /// `--formula`: the `formula` label values, comma-separated.
    pub formula: Option<String>,
    /// `--gpu`, `--dtype`, `--gpus`, `--peak-tflops`.
    pub hardware: HardwareSettings,
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
    pub web_max_connections: Option<usize>,
    pub web_request_timeout: Option<String>,
    pub web_ready_without_logs: bool,
    pub web_config_file: Option<PathBuf>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub tail_paths: Vec<String>,
    pub tail_run: Option<String>,
    pub tail_read_from: Option<ReadFrom>,
    pub tail_scope: Option<ThroughputScope>,
    pub tail_poll: bool,
    pub tail_format: Option<String>,
    pub tail_tokens_per_step: Option<f64>,
    pub tail_warmup_steps: Option<u32>,
    pub state_file: Option<PathBuf>,
    pub stale_after: Option<String>,
    pub push_token_file: Option<PathBuf>,
    pub push_allow_remote: bool,
    pub push_max_body_bytes: Option<u64>,
    pub push_max_inflight_bytes: Option<u64>,
    pub push_expire_after: Option<String>,
    pub push_max_runs: Option<usize>,
}

/// One tailed run, resolved.
#[derive(Debug, Clone)]
pub struct TailConfig {
    pub run: String,
    pub patterns: Vec<String>,
    pub scope: ThroughputScope,
    pub read_from: ReadFrom,
    pub poll: bool,
    pub max_line_bytes: usize,
    /// The log format, with `[tail.fields]` applied to its JSON keys.
    pub format: Arc<Format>,
    /// Global tokens per optimizer step for records that say none.
    pub tokens_per_step: Option<f64>,
    /// Records after a start or a restart kept out of the rate gauges.
    pub warmup_records: u32,
}

#[derive(Debug, Clone)]
pub struct PushConfig {
    pub token: Option<String>,
    pub allow_remote: bool,
    pub max_body_bytes: u64,
    /// The most push body bytes held at once, over all pushes.
    pub max_inflight_bytes: u64,
    pub expire_after: Duration,
    pub max_runs: usize,
}

/// The validated configuration `serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen_address: SocketAddr,
    pub telemetry_path: String,
    /// The most connections served at once, before the open-file limit lowers it.
    pub max_connections: usize,
    /// Bounds reading a request and writing its response.
    pub request_timeout: Duration,
    /// `/-/ready` answers ready even while no tailed log can be read.
    pub ready_without_logs: bool,
    /// TLS, basic auth and response headers from `--web.config.file`; all off without it.
    pub web: WebConfig,
    pub log_level: String,
    pub log_format: LogFormat,
    pub spec: Arc<RunSpec>,
    pub tails: Vec<TailConfig>,
    pub state_file: Option<PathBuf>,
    pub stale_after: Duration,
    pub push: PushConfig,
}

/// Every problem found, each naming its field; `Display` lists them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration:")?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads and parses a config file; every problem names the file and the field.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigErrors> {
    let (file, problems) = read_file_with_problems(path)?;
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(ConfigErrors(problems))
    }
}

/// Reads a config file, keeping what is valid: the config without its bad keys, and one problem
/// (naming the file and the field) per bad key. Only a file that cannot be read or is not TOML
/// at all is an error on its own.
pub fn read_file_with_problems(path: &Path) -> Result<(FileConfig, Vec<String>), ConfigErrors> {
    let name = |problem: &str| format!("config file {}: {problem}", path.display());
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigErrors(vec![name(&e.to_string())]))?;
    let (file, problems) =
        parse_file_with_problems(&text).map_err(|e| ConfigErrors(vec![name(&e)]))?;
    Ok((file, problems.iter().map(|problem| name(problem)).collect()))
}

/// Merges a config file (if any) and the flags and validates the result, reporting the file's
/// type errors and unknown keys together with every other problem.
pub fn load(path: Option<&Path>, flags: FlagConfig) -> Result<ServeConfig, ConfigErrors> {
    let (file, mut problems) = match path {
        Some(path) => read_file_with_problems(path)?,
        None => (FileConfig::default(), Vec::new()),
    };
    match resolve(file, flags) {
        Ok(config) if problems.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors(problems)),
        Err(ConfigErrors(more)) => {
            problems.extend(more);
            Err(ConfigErrors(problems))
        }
    }
}

/// Parses a config file's text; every problem is in the message, one a line.
pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    let (file, problems) = parse_file_with_problems(text)?;
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems.join("\n"))
    }
}

/// Parses a config file's text, collecting every type error and unknown key (each naming its
/// field, such as `hardware.gpus` or `tail[1].fields.loss`) and dropping those keys, so that one
/// run reports them all. A syntax error stops at once: TOML cannot be read past it.
pub fn parse_file_with_problems(text: &str) -> Result<(FileConfig, Vec<String>), String> {
    // Nearly every file is valid: read it in one go, and take it apart only to explain a problem.
    if let Ok(file) = toml::from_str::<FileConfig>(text) {
        return Ok((file, Vec::new()));
    }
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.to_string().trim_end().replace('\n', "\n    "))?;
    let mut problems = Vec::new();
    drop_bad_keys_of::<ModelSection>(&mut table, "model", &mut problems);
    drop_bad_keys_of::<HardwareSection>(&mut table, "hardware", &mut problems);
    drop_bad_keys_of::<WebSection>(&mut table, "web", &mut problems);
    drop_bad_keys_of::<LogSection>(&mut table, "log", &mut problems);
    drop_bad_keys_of::<PushSection>(&mut table, "push", &mut problems);
    if let Some(toml::Value::Array(tails)) = table.get_mut("tail") {
        for (index, tail) in tails.iter_mut().enumerate() {
            let path = format!("tail[{index}]");
            if let toml::Value::Table(tail) = tail {
                if let Some(toml::Value::Table(fields)) = tail.get_mut("fields") {
                    let fields_path = format!("{path}.fields");
                    drop_bad_keys::<BTreeMap<String, FieldValue>>(
                        fields,
                        &fields_path,
                        &mut problems,
                    );
                }
                drop_bad_keys::<TailSection>(tail, &path, &mut problems);
            }
        }
    }
    drop_bad_keys::<FileConfig>(&mut table, "", &mut problems);
    for problem in &mut problems {
        let line = problem
            .split_once(": ")
            .and_then(|(field, _)| line_of_key(text, field));
        if let Some(line) = line {
            problem.push_str(&format!(" (line {line})"));
        }
    }
    match FileConfig::deserialize(toml::Value::Table(table)) {
        Ok(file) => Ok((file, problems)),
        // Every key left was read on its own; together they are read the same way.
        Err(error) => {
            problems.push(error.to_string().trim_end().to_owned());
            Ok((FileConfig::default(), problems))
        }
    }
}

/// The 1-based line of the key that `field` names (`stale_after`, `hardware.gpus`, `tail[1].run`,
/// `tail[0].fields.loss`) where it is written as `key = ...` under its table's header; `None` for
/// keys written otherwise (inline tables, dotted keys).
fn line_of_key(text: &str, field: &str) -> Option<usize> {
    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
    let mut current = String::new();
    let mut tails = 0_usize;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix("[[").and_then(|l| l.split_once("]]")) {
            let name = header.0.trim();
            current = if name == "tail" {
                tails += 1;
                format!("tail[{}]", tails - 1)
            } else {
                name.to_owned()
            };
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split_once(']')) {
            let name = header.0.trim();
            current = match (name.strip_prefix("tail."), tails.checked_sub(1)) {
                (Some(rest), Some(last)) => format!("tail[{last}].{rest}"),
                _ => name.to_owned(),
            };
            continue;
        }
        let Some((written, _)) = line.split_once('=') else {
            continue;
        };
        let written = written.trim().trim_matches('"');
        if current == table && written == key {
            return Some(index + 1);
        }
    }
    None
}

/// serde says only "did not match any variant" of the keys that take several shapes; this says
/// which shapes.
fn explain_untagged(message: &str) -> String {
    message
        .replace(
            "data did not match any variant of untagged enum FieldValue",
            "expected a key path such as \"metrics.loss\", a list of them, or { path = \"...\", scale = 0.001 }",
        )
        .replace(
            "data did not match any variant of untagged enum OneOrMany",
            "expected a path or glob, or a list of them",
        )
}

/// [`drop_bad_keys`] on the table `table[name]`, if it is one (if it is not, the check of the
/// table holding it says so).
fn drop_bad_keys_of<T: serde::de::DeserializeOwned>(
    table: &mut toml::Table,
    name: &str,
    problems: &mut Vec<String>,
) {
    if let Some(toml::Value::Table(section)) = table.get_mut(name) {
        drop_bad_keys::<T>(section, name, problems);
    }
}

/// Removes from `table` each key that `T` refuses (unknown, or of the wrong type), with a problem
/// naming `path.key`. Every key of the config's tables is optional, so each is tried on its own.
fn drop_bad_keys<T: serde::de::DeserializeOwned>(
    table: &mut toml::Table,
    path: &str,
    problems: &mut Vec<String>,
) {
    if T::deserialize(toml::Value::Table(table.clone())).is_ok() {
        return;
    }
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let Some(value) = table.get(&key) else {
            continue;
        };
        let alone: toml::Table = [(key.clone(), value.clone())].into_iter().collect();
        if let Err(error) = T::deserialize(toml::Value::Table(alone)) {
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            // The reader adds "\nin `key`", which the field already says.
            let message = error.to_string();
            let message = message.lines().next().unwrap_or_default().trim_end();
            problems.push(format!("{field}: {}", explain_untagged(message)));
            table.remove(&key);
        }
    }
}

fn parse_duration(field: &str, text: &str, problems: &mut Vec<String>) -> Option<Duration> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            problems.push(format!(
                "{field} = {text:?}: must be longer than zero; write e.g. \"5m\""
            ));
            None
        }
        Err(e) => {
            problems.push(format!(
                "{field} = {text:?}: {e}; write a duration such as \"30s\", \"5m\" or \"1h\""
            ));
            None
        }
    }
}

/// The default of `--web.max-connections`: far more than Prometheus and a few pushers need, and with the
/// descriptor reserve within the common open-file limit of 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The default of `--web.request-timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The default of `--push.max-inflight-bytes`: sixteen pushes of the largest default size.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 16 << 20;

/// Parses a listen address; `:port` (Prometheus style) listens on every interface.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    let problem = || {
        format!(
            "web.listen-address = {text:?}: not an address; write HOST:PORT such as \"0.0.0.0:{DEFAULT_PORT}\", \"127.0.0.1:{DEFAULT_PORT}\", \"localhost:{DEFAULT_PORT}\" or \":{DEFAULT_PORT}\""
        )
    };
    if let Ok(address) = full.parse::<SocketAddr>() {
        return Ok(address);
    }
    // A host name (such as localhost) is resolved once, at start-up.
    std::net::ToSocketAddrs::to_socket_addrs(&full)
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(problem)
}

pub fn parse_scope(text: &str) -> Result<ThroughputScope, String> {
    match text {
        "global" => Ok(ThroughputScope::Global),
        "per-gpu" => Ok(ThroughputScope::PerGpu),
        "per-file" => Ok(ThroughputScope::PerFile),
        other => Err(format!(
            "throughput scope {other:?}: use global, per-gpu or per-file"
        )),
    }
}

pub fn parse_read_from(text: &str) -> Result<ReadFrom, String> {
    match text {
        "beginning" => Ok(ReadFrom::Beginning),
        "end" => Ok(ReadFrom::End),
        other => Err(format!("read-from {other:?}: use beginning or end")),
    }
}

/// Parses `--formula` / `model.formula`: known names, each once, at least one.
pub fn parse_formulas(text: &str) -> Result<Vec<Formula>, String> {
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
                "model.formula (--formula) = {text:?}: an empty name; list formulas separated by commas, e.g. \"palm,detailed,megatron\" (known: {})",
                known()
            ));
        }
        let Some(formula) = Formula::from_label(name) else {
            return Err(format!(
                "model.formula (--formula) = {text:?}: unknown formula {name:?}; use some of {}",
                known()
            ));
        };
        if formulas.contains(&formula) {
            return Err(format!(
                "model.formula (--formula) = {text:?}: {name:?} is listed twice; list each formula once"
            ));
        }
        formulas.push(formula);
    }
    Ok(formulas)
}

fn parse_attention(text: &str) -> Result<AttentionCounting, String> {
    match text {
        "full" => Ok(AttentionCounting::Full),
        "causal" => Ok(AttentionCounting::Causal),
        other => Err(format!("model.attention = {other:?}: use full or causal")),
    }
}

fn parse_recompute(text: &str) -> Result<Recompute, String> {
    match text {
        "none" => Ok(Recompute::None),
        "selective" => Ok(Recompute::Selective),
        "full" => Ok(Recompute::Full),
        other => Err(format!(
            "model.recompute = {other:?}: use none, selective or full"
        )),
    }
}

pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// How the daemon writes its own log (`--log.format`), as Prometheus exporters do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs, one event a line (the default).
    #[default]
    Logfmt,
    /// One JSON object a line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "logfmt" => Ok(LogFormat::Logfmt),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log.format = {other:?}: use logfmt or json")),
        }
    }
}

/// Run names: 1 to 64 letters, digits, `_`, `-` or `.` (the same rule as pushes).
pub fn check_run_name(name: &str) -> Result<(), String> {
    crate::ingest::push::validate_run_name(name).map_err(|e| e.to_string())
}

/// Merges the file and the flags (flags win) and validates the result.
pub fn resolve(file: FileConfig, flags: FlagConfig) -> Result<ServeConfig, ConfigErrors> {
    let mut problems = Vec::new();
    let tail_flags = TailFlags {
        scope: flags.tail_scope,
        read_from: flags.tail_read_from,
        poll: flags.tail_poll,
        format: flags.tail_format.clone(),
        tokens_per_step: flags.tail_tokens_per_step,
        warmup_steps: flags.tail_warmup_steps,
    };
    let (tail_paths, tail_run) = (flags.tail_paths.clone(), flags.tail_run.clone());
    if tail_run.is_some() && tail_paths.is_empty() {
        problems.push(
            "tail.run: given without --tail.path; add --tail.path, or name runs in the config file's [[tail]] sections".into(),
        );
    }

    // Model and hardware.
    let formulas = match flags.formula.as_deref().or(file.model.formula.as_deref()) {
        Some(text) => parse_formulas(text).unwrap_or_else(|e| {
            problems.push(e);
            Formula::DEFAULT.to_vec()
        }),
        None => Formula::DEFAULT.to_vec(),
    };
    // The file's words become settings (an enum that does not parse is a problem unless a flag
    // overrides it); the flags win over them.
    let file_model = ModelSettings {
        model: file.model.model,
        seq_len: file.model.seq_len,
        attention: match (flags.model.attention, file.model.attention.as_deref()) {
            (None, Some(text)) => parse_attention(text).map_err(|e| problems.push(e)).ok(),
            _ => None,
        },
        recompute: match (flags.model.recompute, file.model.recompute.as_deref()) {
            (None, Some(text)) => parse_recompute(text).map_err(|e| problems.push(e)).ok(),
            _ => None,
        },
        mtp: file.model.mtp.unwrap_or(false),
    };
    let model_settings = flags.model.or(file_model);
    let model = resolve::model(&model_settings)
        .map_err(|refused| {
            let words = refused.iter().map(|p| p.message(Names::Config));
            problems.extend(words);
        })
        .ok();
    let hardware_settings = flags.hardware.or(HardwareSettings {
        gpu: file.hardware.gpu,
        dtype: file.hardware.dtype,
        gpus: file.hardware.gpus,
        peak_tflops: file.hardware.peak_tflops,
    });
    let hardware = resolve::hardware(&hardware_settings)
        .map_err(|problem| problems.push(problem.message(Names::Config)))
        .ok();

    // Web and logging.
    let listen_text = flags
        .listen_address
        .or(file.web.listen_address)
        .unwrap_or_else(|| DEFAULT_LISTEN_ADDRESS.to_string());
    let listen_address = parse_listen_address(&listen_text)
        .map_err(|e| problems.push(e))
        .ok();
    let telemetry_path = flags
        .telemetry_path
        .or(file.web.telemetry_path)
        .unwrap_or_else(|| "/metrics".to_string());
    if !telemetry_path.starts_with('/') || reserved_path(&telemetry_path) {
        problems.push(format!(
            "web.telemetry-path = {telemetry_path:?}: must start with '/' and not be one of /, /-/healthy, /-/ready, /api/v1/push"
        ));
    } else if let Some(bad) = telemetry_path.chars().find(|c| !is_path_character(*c)) {
        // A request line cannot carry it, so no scrape could reach the metrics.
        problems.push(format!(
            "web.telemetry-path = {telemetry_path:?}: {bad:?} cannot appear in a URL path; use letters, digits and - . _ ~ / only (for example \"/metrics\")"
        ));
    }
    let ready_without_logs =
        flags.web_ready_without_logs || file.web.ready_without_logs.unwrap_or(false);
    let max_connections = flags
        .web_max_connections
        .or(file.web.max_connections)
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 {
        problems.push(format!(
            "web.max-connections = 0: allow at least one connection (default {DEFAULT_MAX_CONNECTIONS})"
        ));
    }
    let request_timeout = flags
        .web_request_timeout
        .or(file.web.request_timeout)
        .map_or(Some(DEFAULT_REQUEST_TIMEOUT), |t| {
            parse_duration("web.request-timeout", &t, &mut problems)
        });
    let log_level = flags
        .log_level
        .or(file.log.level)
        .unwrap_or_else(|| "info".to_string());
    if !LOG_LEVELS.contains(&log_level.as_str()) {
        problems.push(format!(
            "log.level = {log_level:?}: use one of {}",
            LOG_LEVELS.join(", ")
        ));
    }
    let log_format = flags
        .log_format
        .or(file.log.format)
        .map_or(Ok(LogFormat::default()), |text| text.parse())
        .unwrap_or_else(|problem| {
            problems.push(problem);
            LogFormat::default()
        });
    let web = match flags.web_config_file.or(file.web.config_file) {
        None => WebConfig::default(),
        Some(path) => web_config::load(&path).unwrap_or_else(|found| {
            problems.extend(found);
            WebConfig::default()
        }),
    };

    // Durations and push.
    let stale_after = flags
        .stale_after
        .or(file.stale_after)
        .map_or(Some(Duration::from_secs(300)), |t| {
            parse_duration("stale-after", &t, &mut problems)
        });
    let expire_after = flags
        .push_expire_after
        .or(file.push.expire_after)
        .map_or(Some(Duration::from_secs(3600)), |t| {
            parse_duration("push.expire-after", &t, &mut problems)
        });
    let max_body_bytes = flags
        .push_max_body_bytes
        .or(file.push.max_body_bytes)
        .unwrap_or(1 << 20);
    if max_body_bytes == 0 {
        problems.push("push.max-body-bytes = 0: allow at least one byte (default 1048576)".into());
    }
    let max_inflight_bytes = flags
        .push_max_inflight_bytes
        .or(file.push.max_inflight_bytes)
        .unwrap_or(DEFAULT_MAX_INFLIGHT_BYTES);
    if max_inflight_bytes == 0 {
        problems.push(format!(
            "push.max-inflight-bytes = 0: allow at least one byte (default {DEFAULT_MAX_INFLIGHT_BYTES})"
        ));
    } else if max_body_bytes > 0 && max_inflight_bytes < max_body_bytes {
        problems.push(format!(
            "push.max-inflight-bytes = {max_inflight_bytes}: below push.max-body-bytes = {max_body_bytes}, so the largest pushes would always get 503; raise it to at least {max_body_bytes}"
        ));
    }
    let max_runs = flags.push_max_runs.or(file.push.max_runs).unwrap_or(100);
    if max_runs == 0 {
        problems.push("push.max-runs = 0: allow at least one pushed run (default 100)".into());
    }
    let token = match flags.push_token_file.or(file.push.token_file) {
        None => None,
        Some(path) => {
            match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
                Ok(_) => {
                    problems.push(format!(
                        "push.token-file {}: the file is empty; write the bearer token into it",
                        path.display()
                    ));
                    None
                }
                Err(e) => {
                    problems.push(format!("push.token-file {}: {e}; point it at a readable file holding the bearer token", path.display()));
                    None
                }
            }
        }
    };
    let allow_remote = flags.push_allow_remote || file.push.allow_remote.unwrap_or(false);

    // Tails: flags replace the file's list.
    let sections = if tail_paths.is_empty() {
        file.tail
    } else {
        vec![TailSection {
            path: OneOrMany::Many(tail_paths),
            run: tail_run,
            ..TailSection::default()
        }]
    };
    let mut tails = Vec::new();
    for (index, section) in sections.into_iter().enumerate() {
        if let Some(tail) = resolve_tail(index, section, tail_flags.clone(), &mut problems) {
            if tails.iter().any(|t: &TailConfig| t.run == tail.run) {
                problems.push(format!(
                    "tail[{index}].run = {:?}: another tail has the same run name; give each [[tail]] its own `run`",
                    tail.run
                ));
            }
            tails.push(tail);
        }
    }

    let state_file = flags.state_file.or(file.state_file);
    if let Some(path) = &state_file {
        if let Err(problem) = check_state_directory(path) {
            problems.push(format!(
                "state_file = {:?}: {problem}",
                path.display().to_string()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    let (
        Some((named, options)),
        Some(hardware),
        Some(listen_address),
        Some(stale_after),
        Some(expire_after),
        Some(request_timeout),
    ) = (
        model,
        hardware,
        listen_address,
        stale_after,
        expire_after,
        request_timeout,
    )
    else {
        return Err(ConfigErrors(vec![
            "internal: a field failed without a message".into(),
        ]));
    };
    let spec = Arc::new(RunSpec {
        model_name: named.name.clone(),
        accounting: Accounting::with_formulas(&named.model, options, &formulas),
        hardware,
    });
    Ok(ServeConfig {
        listen_address,
        telemetry_path,
        max_connections,
        request_timeout,
        ready_without_logs,
        web,
        log_level,
        log_format,
        spec,
        tails,
        state_file,
        stale_after,
        push: PushConfig {
            token,
            allow_remote,
            max_body_bytes,
            max_inflight_bytes,
            expire_after,
            max_runs,
        },
    })
}

/// The characters of a URL path as a request line carries it unescaped (RFC 3986 `pchar` and
/// `/`): no space, `?`, `#` or `%`.
fn is_path_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c)
}

fn reserved_path(path: &str) -> bool {
    matches!(path, "/" | "/-/healthy" | "/-/ready" | "/api/v1/push")
}

/// The flags that apply to every tail.
#[derive(Debug, Clone)]
struct TailFlags {
    scope: Option<ThroughputScope>,
    read_from: Option<ReadFrom>,
    poll: bool,
    format: Option<String>,
    tokens_per_step: Option<f64>,
    warmup_steps: Option<u32>,
}

/// Records kept out of the rate gauges after a start or a restart when neither the flag nor the
/// format says: the first one, which holds compilation and start-up in every trainer we read.
pub const DEFAULT_WARMUP_RECORDS: u32 = 1;

/// The positions file's directory must exist and be writable: the file is replaced by a
/// rename from a temporary file beside it.
fn check_state_directory(path: &std::path::Path) -> Result<(), String> {
    if path.file_name().is_none() || path.is_dir() {
        return Err(
            "names a directory; give the path of a file, e.g. /var/lib/mfu-exporter/positions.json"
                .into(),
        );
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    if !directory.is_dir() {
        return Err(format!(
            "its directory {} does not exist; create it or choose another path",
            directory.display()
        ));
    }
    let c_path = std::ffi::CString::new(directory.as_os_str().as_encoded_bytes())
        .map_err(|_| "the path holds a NUL byte".to_string())?;
    // SAFETY: a NUL-terminated path; access(2) only reads it.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(format!(
            "its directory {} is not writable by this user; fix its permissions or choose another path",
            directory.display()
        ));
    }
    Ok(())
}

fn resolve_tail(
    index: usize,
    section: TailSection,
    flags: TailFlags,
    problems: &mut Vec<String>,
) -> Option<TailConfig> {
    let field = |name: &str| format!("tail[{index}].{name}");
    let before = problems.len();
    let patterns = section.path.into_vec();
    if patterns.is_empty() || patterns.iter().any(|p| p.trim().is_empty()) {
        problems.push(format!(
            "{}: not set; give the log file path or glob, e.g. path = \"/logs/train-*.jsonl\"",
            field("path")
        ));
    }
    for pattern in &patterns {
        if pattern.contains(['*', '?', '[']) {
            if let Err(error) = glob::Pattern::new(pattern) {
                problems.push(format!(
                    "{} = {pattern:?}: not a valid glob ({error}); escape a literal `[` as `[[]`",
                    field("path")
                ));
            }
        }
    }
    let run = section.run.unwrap_or_else(|| "default".to_string());
    if let Err(e) = check_run_name(&run) {
        problems.push(format!("{}: {e}", field("run")));
    }
    let scope = match (flags.scope, section.throughput_scope.as_deref()) {
        (Some(scope), _) => scope,
        (None, Some(text)) => parse_scope(text)
            .map_err(|e| problems.push(format!("{}: {e}", field("throughput_scope"))))
            .unwrap_or_default(),
        (None, None) => ThroughputScope::AsLogged,
    };
    let read_from = match (flags.read_from, section.read_from.as_deref()) {
        (Some(r), _) => r,
        (None, Some(text)) => parse_read_from(text)
            .map_err(|e| problems.push(format!("{}: {e}", field("read_from"))))
            .unwrap_or_default(),
        (None, None) => ReadFrom::End,
    };
    let max_line_bytes = section
        .max_line_bytes
        .unwrap_or(crate::ingest::tail::DEFAULT_MAX_LINE_BYTES);
    if max_line_bytes < 256 {
        problems.push(format!(
            "{} = {max_line_bytes}: too small for a log line; use at least 256 (default 1048576)",
            field("max_line_bytes")
        ));
    }
    let format_name = flags
        .format
        .or(section.format)
        .unwrap_or_else(|| DEFAULT_FORMAT.to_owned());
    let mut format = match Format::load(&format_name) {
        Ok(format) => Some(Format::clone(&format)),
        Err(error) => {
            problems.push(format!("{}: {error}", field("format")));
            None
        }
    };
    match section.mfu_unit.as_deref() {
        None | Some("ratio") => {}
        Some("percent") => {
            if let Some(current) = format.as_ref() {
                let specs = current
                    .json_mapping()
                    .map(|mapping| {
                        mapping
                            .specs(Field::ReportedMfu)
                            .iter()
                            .map(|spec| FieldSpec {
                                scale: 0.01,
                                ..spec.clone()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                match current.with_json_keys(Field::ReportedMfu, specs) {
                    Ok(changed) => format = Some(changed),
                    Err(e) => problems.push(format!("{}: {e}", field("mfu_unit"))),
                }
            }
        }
        Some(other) => problems.push(format!(
            "{} = {other:?}: use ratio (0..1) or percent (0..100)",
            field("mfu_unit")
        )),
    }
    for (name, value) in section.fields {
        let Ok(mapped) = name.parse::<Field>() else {
            problems.push(format!(
                "{}: unknown field; map one of {}",
                field(&format!("fields.{name}")),
                Field::names()
            ));
            continue;
        };
        let entries: Vec<(String, f64)> = match value {
            FieldValue::Path(path) => vec![(path, 1.0)],
            FieldValue::Paths(paths) => paths.into_iter().map(|p| (p, 1.0)).collect(),
            FieldValue::Spec { path, scale } => vec![(path, scale)],
        };
        let mut specs = Vec::new();
        let mut valid = true;
        for (path, scale) in entries {
            let spec = FieldPath::parse(&path).and_then(|p| FieldSpec::new(p, scale));
            match spec {
                Ok(spec) => specs.push(spec),
                Err(e) => {
                    valid = false;
                    problems.push(format!("{}: {e}", field(&format!("fields.{name}"))));
                }
            }
        }
        // An empty list switches the field off.
        if let (true, Some(current)) = (valid, format.as_ref()) {
            match current.with_json_keys(mapped, specs) {
                Ok(changed) => format = Some(changed),
                Err(e) => problems.push(format!("{}: {e}", field(&format!("fields.{name}")))),
            }
        }
    }
    let tokens_per_step = flags.tokens_per_step.or(section.tokens_per_step);
    if let Some(tokens) = tokens_per_step {
        let limit = Field::TokensPerStep.plausible_limit();
        if !(tokens.is_finite() && tokens > 0.0 && tokens <= limit) {
            problems.push(format!(
                "{} = {tokens}: must be a number of tokens above 0 and at most {limit:e}: the global batch size times the sequence length",
                field("tokens_per_step")
            ));
        }
    }
    let warmup_records = flags
        .warmup_steps
        .or(section.warmup_steps)
        .or(format.as_ref().and_then(|f| f.warmup_steps))
        .unwrap_or(DEFAULT_WARMUP_RECORDS);
    (problems.len() == before).then_some(TailConfig {
        run,
        patterns,
        scope,
        read_from,
        poll: flags.poll || section.poll.unwrap_or(false),
        max_line_bytes,
        format: Arc::new(format?),
        tokens_per_step,
        warmup_records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> FlagConfig {
        FlagConfig {
            model: ModelSettings {
                model: Some("gpt2".into()),
                ..ModelSettings::default()
            },
            hardware: HardwareSettings {
                gpu: Some("a100-sxm".into()),
                ..HardwareSettings::default()
            },
            ..FlagConfig::default()
        }
    }

    fn problems(toml_text: &str, flags: FlagConfig) -> String {
        let file = parse_file(toml_text).unwrap();
        resolve(file, flags).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn formula_key_and_flag_choose_the_exported_formulas() {
        let labels = |config: &ServeConfig| -> Vec<&'static str> {
            config
                .spec
                .accounting
                .formulas()
                .iter()
                .map(|(label, _)| *label)
                .collect()
        };
        let default = resolve(parse_file("").unwrap(), flags()).unwrap();
        assert_eq!(labels(&default), ["palm", "detailed"]);
        let file = parse_file("[model]\nformula = \"palm, detailed, olmo_core\"").unwrap();
        let from_file = resolve(file, flags()).unwrap();
        assert_eq!(labels(&from_file), ["palm", "detailed", "olmo_core"]);
        let file = parse_file("[model]\nformula = \"palm\"").unwrap();
        let flag_wins = resolve(
            file,
            FlagConfig {
                formula: Some("megatron,detailed".into()),
                ..flags()
            },
        )
        .unwrap();
        assert_eq!(labels(&flag_wins), ["megatron", "detailed"]);
        let message = problems("[model]\nformula = \"palm,flops\"", flags());
        assert!(message.contains("model.formula"), "{message}");
        assert!(message.contains("\"flops\""), "{message}");
        assert!(message.contains("torchtitan"), "{message}");
    }

    #[test]
    fn flags_override_the_file() {
        let file = parse_file(
            r#"
            [model]
            model = "llama-3-8b"
            seq_len = 4096
            [hardware]
            gpu = "h100-sxm"
            gpus = 8
            [web]
            listen_address = "127.0.0.1:9999"
            [[tail]]
            path = "/logs/*.jsonl"
            run = "pretrain"
            throughput_scope = "per-gpu"
            "#,
        )
        .unwrap();
        let config = resolve(
            file,
            FlagConfig {
                hardware: HardwareSettings {
                    gpus: Some(16),
                    ..HardwareSettings::default()
                },
                listen_address: Some(":10078".into()),
                ..FlagConfig::default()
            },
        )
        .unwrap();
        assert_eq!(config.spec.hardware.gpus, 16);
        assert_eq!(config.spec.accounting.options.seq_len, 4096);
        assert_eq!(config.listen_address, "0.0.0.0:10078".parse().unwrap());
        assert_eq!(config.tails.len(), 1);
        assert_eq!(config.tails[0].run, "pretrain");
        assert_eq!(config.tails[0].scope, ThroughputScope::PerGpu);
        assert_eq!(config.tails[0].read_from, ReadFrom::End);
    }

    #[test]
    fn an_invalid_glob_an_absurd_seq_len_and_a_missing_state_directory_stop_start_up() {
        let message = problems(
            r#"
            state_file = "/nonexistent/mfu-exporter/positions.json"
            [model]
            seq_len = 9223372036854775807
            [[tail]]
            path = "/tmp/["
            "#,
            flags(),
        );
        assert!(
            message.contains("tail[0].path = \"/tmp/[\": not a valid glob"),
            "{message}"
        );
        assert!(
            message.contains("model.seq_len = 9223372036854775807: above the limit"),
            "{message}"
        );
        assert!(
            message.contains("state_file = \"/nonexistent/mfu-exporter/positions.json\": its directory /nonexistent/mfu-exporter does not exist"),
            "{message}"
        );
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = resolve(FileConfig::default(), flags()).unwrap();
        assert_eq!(config.listen_address.port(), DEFAULT_PORT);
        assert_eq!(config.telemetry_path, "/metrics");
        assert_eq!(config.stale_after, Duration::from_secs(300));
        assert_eq!(config.push.expire_after, Duration::from_secs(3600));
        assert_eq!(config.push.max_body_bytes, 1 << 20);
        assert_eq!(config.push.max_runs, 100);
        assert_eq!(config.push.max_inflight_bytes, 16 << 20);
        assert_eq!(config.max_connections, 512);
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert!(config.tails.is_empty(), "no tail source: push-only");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let message = problems(
            r#"
            stale_after = "soon"
            [hardware]
            dtype = "int3"
            [log]
            level = "loud"
            [[tail]]
            run = "bad name!"
            throughput_scope = "everything"
            "#,
            FlagConfig {
                hardware: HardwareSettings {
                    gpu: Some("a100-sxm".into()),
                    ..HardwareSettings::default()
                },
                ..FlagConfig::default()
            },
        );
        for needle in [
            "model: not set",
            "stale-after",
            "hardware.dtype",
            "int3",
            "log.level",
            "tail[0].path",
            "tail[0].run",
            "tail[0].throughput_scope",
        ] {
            assert!(message.contains(needle), "lacks {needle:?}: {message}");
        }
    }

    #[test]
    fn listen_addresses_take_the_usual_forms() {
        assert_eq!(
            parse_listen_address(":10077").unwrap(),
            "0.0.0.0:10077".parse().unwrap()
        );
        assert_eq!(
            parse_listen_address("127.0.0.1:1").unwrap(),
            "127.0.0.1:1".parse().unwrap()
        );
        assert!(parse_listen_address("localhost:10077")
            .unwrap()
            .ip()
            .is_loopback());
        let error = parse_listen_address("here").unwrap_err();
        assert!(
            error.contains("web.listen-address") && error.contains("HOST:PORT"),
            "{error}"
        );
    }

    #[test]
    fn tail_run_without_a_path_is_refused() {
        let message = problems(
            "",
            FlagConfig {
                tail_run: Some("r".into()),
                ..flags()
            },
        );
        assert!(
            message.contains("tail.run") && message.contains("--tail.path"),
            "{message}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let error = parse_file("[hardware]\ngpu_count = 8\n").unwrap_err();
        assert!(error.contains("gpu_count"), "{error}");
    }

    /// Issue 11, finding 6: six mistakes took four rounds. Every type error and unknown key is
    /// reported at once, each naming its field, together with the problems of what was valid.
    #[test]
    fn every_type_error_and_unknown_key_is_reported_at_once() {
        let text = r#"
            stale_afer = "5m"
            [model]
            model = "gpt2"
            seq_len = "2048"
            [hardware]
            gpu = "a100-sxm"
            gpus = "eight"
            gpu_count = 8
            dtype = "int3"
            [web]
            max_connections = -1
            [[tail]]
            path = "/logs/a.jsonl"
            poll = "yes"
            [tail.fields]
            loss = 5
            [[tail]]
            pth = "/logs/b.jsonl"
            "#;
        let (file, problems) = parse_file_with_problems(text).unwrap();
        let message = problems.join("\n");
        for needle in [
            "stale_afer: unknown field `stale_afer`",
            "model.seq_len: invalid type: string \"2048\", expected u64",
            "hardware.gpus: invalid type: string \"eight\", expected u64 (line 8)",
            "hardware.gpu_count: unknown field `gpu_count`, expected one of `gpu`, `dtype`, `gpus`, `peak_tflops`",
            "web.max_connections: invalid value: integer `-1`, expected usize",
            "tail[0].poll: invalid type: string \"yes\", expected a boolean",
            "tail[0].fields.loss: expected a key path such as \"metrics.loss\", a list of them, or { path",
            "tail[1].pth: unknown field `pth`",
        ] {
            assert!(message.contains(needle), "lacks {needle:?}:\n{message}");
        }
        assert_eq!(problems.len(), 8, "{message}");
        // Each with the line it is on (the text's first line is empty).
        for (field, line) in [
            ("stale_afer", 2),
            ("hardware.gpus", 8),
            ("tail[0].fields.loss", 17),
            ("tail[1].pth", 19),
        ] {
            let problem = problems.iter().find(|p| p.starts_with(field)).unwrap();
            assert!(problem.ends_with(&format!("(line {line})")), "{problem}");
        }
        // What was valid is kept, and its own problems come in the same report.
        assert_eq!(file.model.model.as_deref(), Some("gpt2"));
        assert!(matches!(&file.tail[0].path, OneOrMany::One(path) if path == "/logs/a.jsonl"));
        let resolved = resolve(file, FlagConfig::default())
            .unwrap_err()
            .to_string();
        assert!(resolved.contains("hardware.dtype"), "{resolved}");
        assert!(resolved.contains("tail[1].path: not set"), "{resolved}");
        // A syntax error stops at once, with its line.
        let error = parse_file("[model\nmodel = 1\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn field_mappings_and_percent_mfu() {
        let file = parse_file(
            r#"
            [[tail]]
            path = "/logs/a.jsonl"
            mfu_unit = "percent"
            [tail.fields]
            tokens_per_second = "metrics.tps"
            step_seconds = { path = "/timing/step_ms", scale = 0.001 }
            "#,
        )
        .unwrap();
        let config = resolve(file, flags()).unwrap();
        let line = br#"{"metrics": {"tps": 1200}, "timing": {"step_ms": 500}, "mfu": 40}"#;
        let outcome =
            crate::ingest::format::records::parse_line(&config.tails[0].format, line).unwrap();
        let crate::ingest::observation::LineOutcome::Observation(o) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(o.tokens_per_second, Some(1200.0));
        assert_eq!(o.step_seconds, Some(0.5));
        assert_eq!(o.reported_mfu, Some(0.4));
    }

    #[test]
    fn an_empty_field_list_switches_the_field_off() {
        let file = parse_file(
            r#"
            [[tail]]
            path = "/logs/a.jsonl"
            [tail.fields]
            tokens_per_second = []
            "#,
        )
        .unwrap();
        let config = resolve(file, flags()).unwrap();
        let outcome = crate::ingest::format::records::parse_line(
            &config.tails[0].format,
            br#"{"tokens_per_sec": 1200, "loss": 2}"#,
        )
        .unwrap();
        let crate::ingest::observation::LineOutcome::Observation(o) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!((o.tokens_per_second, o.loss), (None, Some(2.0)));
    }

    #[test]
    fn tail_format_settings() {
        let file = parse_file(
            r#"
            [[tail]]
            path = "/logs/a.log"
            format = "json"
            tokens_per_step = 524288
            warmup_steps = 3
            "#,
        )
        .unwrap();
        let config = resolve(file, flags()).unwrap();
        let tail = &config.tails[0];
        assert_eq!(tail.format.name, "json");
        assert_eq!(tail.tokens_per_step, Some(524288.0));
        assert_eq!(tail.warmup_records, 3);
        assert_eq!(tail.scope, ThroughputScope::AsLogged);
        let bad = problems(
            "[[tail]]\npath = \"/a\"\nformat = \"nope\"\ntokens_per_step = -1\n",
            flags(),
        );
        assert!(
            bad.contains("tail[0].format: nope: no built-in format of that name"),
            "{bad}"
        );
        assert!(
            bad.contains("tail[0].tokens_per_step = -1: must be"),
            "{bad}"
        );
    }

    #[test]
    fn bad_field_mapping_is_named() {
        let message = problems(
            "[[tail]]\npath = \"/x\"\n[tail.fields]\ntokens_per_minute = \"x\"\n",
            flags(),
        );
        assert!(
            message.contains("tail[0].fields.tokens_per_minute"),
            "{message}"
        );
    }

    #[test]
    fn fuzz_peak_override_that_is_infinite_in_flops_is_refused() {
        // From a property of the exporter_config fuzz target: 1e300 TFLOP/s is finite, but
        // 1e312 FLOP/s is not, and every MFU against it came out as 0.
        let message = problems("[hardware]\npeak_tflops = 1e300\n", flags());
        assert!(
            message.contains("peak_tflops = 1e300") && message.contains("at most 1e6"),
            "{message}"
        );
        let message = problems("[hardware]\npeak_tflops = 989e12\n", flags());
        assert!(message.contains("FLOP/s rather than TFLOP/s"), "{message}");
        let file =
            parse_file("[hardware]\npeak_tflops = 1e6\ngpus = 9223372036854775807\n").unwrap();
        let hardware = resolve(file, flags()).unwrap().spec.hardware.clone();
        assert!(hardware.peak_flops().is_finite(), "{hardware:?}");
    }

    #[test]
    fn duplicate_runs_and_reserved_paths_are_refused() {
        let message = problems(
            "[[tail]]\npath = \"/a\"\n[[tail]]\npath = \"/b\"\n",
            FlagConfig {
                telemetry_path: Some("/-/ready".into()),
                ..flags()
            },
        );
        assert!(message.contains("tail[1].run"), "{message}");
        assert!(message.contains("web.telemetry-path"), "{message}");
    }

    #[test]
    fn a_telemetry_path_no_request_can_name_is_refused() {
        for path in ["/my metrics", "/metrics?x=1", "/metrics#a", "/m%20"] {
            let message = problems(
                "",
                FlagConfig {
                    telemetry_path: Some(path.into()),
                    ..flags()
                },
            );
            assert!(
                message.contains("web.telemetry-path")
                    && message.contains("cannot appear in a URL path"),
                "{path}: {message}"
            );
        }
        for path in ["/metrics", "/prometheus/metrics", "/m-1_2.txt"] {
            let config = resolve(
                FileConfig::default(),
                FlagConfig {
                    telemetry_path: Some(path.into()),
                    ..flags()
                },
            );
            assert!(config.is_ok(), "{path}: {:?}", config.err());
        }
    }
}
