//! `serve`'s configuration in two stages: what the user wrote (a TOML file and flags, both
//! [`ServeSettings`], merged, flags win), then a validated, resolved [`ServeConfig`].
//!
//! Validation collects every problem and names each field with what would fix it, so
//! that a bad config stops start-up once, with the whole list. `settings` defines each setting
//! once (flag, key, help, default); `file` reads the TOML file.

mod file;
pub mod settings;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::accounting::Accounting;
use crate::http::web_config::{self, WebConfig};
use crate::ingest::format::Format;
use crate::ingest::mapping::{FieldPath, FieldSpec};
use crate::ingest::observation::Field;
use crate::ingest::tail::ReadFrom;
use crate::resolve::{self, Names};
use crate::setting::{value_or, Merge, Parsed};
use crate::state::{RunSpec, ThroughputScope};

pub use file::{parse_file, parse_file_with_problems, read_file, read_file_with_problems};
pub use settings::{
    defaults, FieldValue, Formulas, Interval, LogFormat, MfuUnit, ServeSettings, TailSettings,
};

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

/// Merges a config file (if any) and the flags and validates the result, reporting the file's
/// type errors and unknown keys together with every other problem.
pub fn load(path: Option<&Path>, flags: ServeSettings) -> Result<ServeConfig, ConfigErrors> {
    let (file, mut problems) = match path {
        Some(path) => read_file_with_problems(path)?,
        None => (ServeSettings::default(), Vec::new()),
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

/// Parses a listen address; `:port` (Prometheus style) listens on every interface.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    let port = defaults::PORT;
    let problem = || {
        format!(
            "web.listen-address = {text:?}: not an address; write HOST:PORT such as \"0.0.0.0:{port}\", \"127.0.0.1:{port}\", \"localhost:{port}\" or \":{port}\""
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

pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Run names: 1 to 64 letters, digits, `_`, `-` or `.` (the same rule as pushes).
pub fn check_run_name(name: &str) -> Result<(), String> {
    crate::ingest::push::validate_run_name(name).map_err(|e| e.to_string())
}

/// Merges the file and the flags (flags win) and validates the result.
pub fn resolve(file: ServeSettings, flags: ServeSettings) -> Result<ServeConfig, ConfigErrors> {
    let mut problems = Vec::new();
    let mut flags = flags;
    // A choice flag that does not parse is named as the flag, not as the file's key (`logs` and
    // `demo` have no file).
    let model_flags = &mut flags.model.model;
    check_flag(&mut model_flags.attention, "--attention", &mut problems);
    check_flag(&mut model_flags.recompute, "--recompute", &mut problems);
    let mut settings = flags.or(file);

    // Model and hardware.
    let formulas = value_or(
        settings.model.formula,
        "model.formula (--formula)",
        Formulas(defaults::FORMULAS.to_vec()),
        &mut problems,
    );
    let model = resolve::model(&settings.model.model)
        .map_err(|refused| {
            let words = refused.iter().map(|p| p.message(Names::Config));
            problems.extend(words);
        })
        .ok();
    let hardware = resolve::hardware(&settings.hardware)
        .map_err(|problem| problems.push(problem.message(Names::Config)))
        .ok();

    // Web and logging.
    let web = settings.web;
    let listen_text = web
        .listen_address
        .unwrap_or_else(|| defaults::LISTEN_ADDRESS.to_owned());
    let listen_address = parse_listen_address(&listen_text)
        .map_err(|e| problems.push(e))
        .ok();
    let telemetry_path = web
        .telemetry_path
        .unwrap_or_else(|| defaults::TELEMETRY_PATH.to_owned());
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
    let max_connections = web.max_connections.unwrap_or(defaults::MAX_CONNECTIONS);
    if max_connections == 0 {
        problems.push(format!(
            "web.max-connections = 0: allow at least one connection (default {})",
            defaults::MAX_CONNECTIONS
        ));
    }
    let request_timeout = value_or(
        web.request_timeout,
        "web.request-timeout",
        defaults::REQUEST_TIMEOUT,
        &mut problems,
    );
    let log_level = settings
        .log
        .level
        .unwrap_or_else(|| defaults::LOG_LEVEL.to_owned());
    if !LOG_LEVELS.contains(&log_level.as_str()) {
        problems.push(format!(
            "log.level = {log_level:?}: use one of {}",
            LOG_LEVELS.join(", ")
        ));
    }
    let log_format = value_or(
        settings.log.format,
        "log.format",
        defaults::LOG_FORMAT,
        &mut problems,
    );
    let web_config = match web.config_file {
        None => WebConfig::default(),
        Some(path) => web_config::load(&path).unwrap_or_else(|found| {
            problems.extend(found);
            WebConfig::default()
        }),
    };

    // Durations and push.
    let stale_after = value_or(
        settings.stale_after,
        "stale-after",
        defaults::STALE_AFTER,
        &mut problems,
    );
    let push = resolve_push(settings.push, &mut problems);

    // Tails: `--tail.path` replaces the file's list; the other `--tail.*` flags apply over each.
    let mut tail_flags = settings.tail_flags;
    if tail_flags.run.is_some() && tail_flags.path.is_empty() {
        problems.push(
            "tail.run: given without --tail.path; add --tail.path, or name runs in the config file's [[tail]] sections".into(),
        );
    }
    // A flag's value that does not parse is one problem, not one per tail.
    check_flag(&mut tail_flags.read_from, "tail.read-from", &mut problems);
    check_flag(
        &mut tail_flags.throughput_scope,
        "tail.throughput-scope",
        &mut problems,
    );
    check_flag(&mut tail_flags.mfu_unit, "tail.mfu-unit", &mut problems);
    let sections = if tail_flags.path.is_empty() {
        std::mem::take(&mut settings.tail)
    } else {
        vec![TailSettings::default()]
    };
    let mut tails = Vec::new();
    for (index, section) in sections.into_iter().enumerate() {
        let section = tail_flags.clone().merge(section);
        if let Some(tail) = resolve_tail(index, section, &mut problems) {
            if tails.iter().any(|t: &TailConfig| t.run == tail.run) {
                problems.push(format!(
                    "tail[{index}].run = {:?}: another tail has the same run name; give each [[tail]] its own `run`",
                    tail.run
                ));
            }
            tails.push(tail);
        }
    }

    let state_file = settings.state_file;
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
    let (Some((named, options)), Some(hardware), Some(listen_address), Some(push)) =
        (model, hardware, listen_address, push)
    else {
        return Err(ConfigErrors(vec![
            "internal: a field failed without a message".into(),
        ]));
    };
    let spec = Arc::new(RunSpec {
        model_name: named.name.clone(),
        accounting: Accounting::with_formulas(&named.model, options, &formulas.0),
        hardware,
    });
    Ok(ServeConfig {
        listen_address,
        telemetry_path,
        max_connections,
        request_timeout: request_timeout.0,
        ready_without_logs: web.ready_without_logs,
        web: web_config,
        log_level,
        log_format,
        spec,
        tails,
        state_file,
        stale_after: stale_after.0,
        push,
    })
}

/// A flag's value that does not parse is reported under the flag's name and dropped.
fn check_flag<T>(setting: &mut Option<Parsed<T>>, name: &str, problems: &mut Vec<String>) {
    if let Some(Parsed::Invalid { .. }) = setting {
        if let Some(parsed) = setting.take() {
            let _ = parsed.check(name, problems);
        }
    }
}

/// `[push]` validated; `None` when a problem was found (each is in `problems`).
fn resolve_push(push: settings::PushSettings, problems: &mut Vec<String>) -> Option<PushConfig> {
    let before = problems.len();
    let expire_after = value_or(
        push.expire_after,
        "push.expire-after",
        defaults::PUSH_EXPIRE_AFTER,
        problems,
    );
    let max_body_bytes = push.max_body_bytes.unwrap_or(defaults::PUSH_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        problems.push(format!(
            "push.max-body-bytes = 0: allow at least one byte (default {})",
            defaults::PUSH_MAX_BODY_BYTES
        ));
    }
    let max_inflight_bytes = push
        .max_inflight_bytes
        .unwrap_or(defaults::PUSH_MAX_INFLIGHT_BYTES);
    if max_inflight_bytes == 0 {
        problems.push(format!(
            "push.max-inflight-bytes = 0: allow at least one byte (default {})",
            defaults::PUSH_MAX_INFLIGHT_BYTES
        ));
    } else if max_body_bytes > 0 && max_inflight_bytes < max_body_bytes {
        problems.push(format!(
            "push.max-inflight-bytes = {max_inflight_bytes}: below push.max-body-bytes = {max_body_bytes}, so the largest pushes would always get 503; raise it to at least {max_body_bytes}"
        ));
    }
    let max_runs = push.max_runs.unwrap_or(defaults::PUSH_MAX_RUNS);
    if max_runs == 0 {
        problems.push(format!(
            "push.max-runs = 0: allow at least one pushed run (default {})",
            defaults::PUSH_MAX_RUNS
        ));
    }
    let token = match push.token_file {
        None => None,
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Ok(_) => {
                problems.push(format!(
                    "push.token-file {}: the file is empty; write the bearer token into it",
                    path.display()
                ));
                None
            }
            Err(e) => {
                problems.push(format!(
                    "push.token-file {}: {e}; point it at a readable file holding the bearer token",
                    path.display()
                ));
                None
            }
        },
    };
    (problems.len() == before).then_some(PushConfig {
        token,
        allow_remote: push.allow_remote,
        max_body_bytes,
        max_inflight_bytes,
        expire_after: expire_after.0,
        max_runs,
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

/// One `[[tail]]` (with the `--tail.*` flags merged over it) validated; `None` when a problem was
/// found (each is in `problems`, named `tail[index].key`).
fn resolve_tail(
    index: usize,
    section: TailSettings,
    problems: &mut Vec<String>,
) -> Option<TailConfig> {
    let field = |name: &str| format!("tail[{index}].{name}");
    let before = problems.len();
    let patterns = section.path;
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
    let run = section.run.unwrap_or_else(|| defaults::TAIL_RUN.to_owned());
    if let Err(e) = check_run_name(&run) {
        problems.push(format!("{}: {e}", field("run")));
    }
    // Without a scope, each field is as the format says.
    let scope = value_or(
        section.throughput_scope,
        &field("throughput_scope"),
        ThroughputScope::AsLogged,
        problems,
    );
    let read_from = value_or(
        section.read_from,
        &field("read_from"),
        defaults::TAIL_READ_FROM,
        problems,
    );
    let max_line_bytes = section
        .max_line_bytes
        .unwrap_or(defaults::TAIL_MAX_LINE_BYTES);
    if max_line_bytes < 256 {
        problems.push(format!(
            "{} = {max_line_bytes}: too small for a log line; use at least 256 (default {})",
            field("max_line_bytes"),
            defaults::TAIL_MAX_LINE_BYTES
        ));
    }
    let format_name = section
        .format
        .unwrap_or_else(|| defaults::TAIL_FORMAT.to_owned());
    let mut format = match Format::load(&format_name) {
        Ok(format) => Some(Format::clone(&format)),
        Err(error) => {
            problems.push(format!("{}: {error}", field("format")));
            None
        }
    };
    let mfu_unit = value_or(
        section.mfu_unit,
        &field("mfu_unit"),
        defaults::TAIL_MFU_UNIT,
        problems,
    );
    if let (MfuUnit::Percent, Some(current)) = (mfu_unit, format.as_ref()) {
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
    let tokens_per_step = section.tokens_per_step;
    if let Some(tokens) = tokens_per_step {
        let limit = Field::TokensPerStep.plausible_limit();
        if !(tokens.is_finite() && tokens > 0.0 && tokens <= limit) {
            problems.push(format!(
                "{} = {tokens}: must be a number of tokens above 0 and at most {limit:e}: the global batch size times the sequence length",
                field("tokens_per_step")
            ));
        }
    }
    let warmup_records = section
        .warmup_steps
        .or(format.as_ref().and_then(|f| f.warmup_steps))
        .unwrap_or(defaults::TAIL_WARMUP_RECORDS);
    (problems.len() == before).then_some(TailConfig {
        run,
        patterns,
        scope,
        read_from,
        poll: section.poll,
        max_line_bytes,
        format: Arc::new(format?),
        tokens_per_step,
        warmup_records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::{ServeModelSettings, WebSettings};
    use crate::resolve::{HardwareSettings, ModelSettings};

    fn flags() -> ServeSettings {
        ServeSettings {
            model: ServeModelSettings {
                model: ModelSettings {
                    model: Some("gpt2".into()),
                    ..ModelSettings::default()
                },
                formula: None,
            },
            hardware: HardwareSettings {
                gpu: Some("a100-sxm".into()),
                ..HardwareSettings::default()
            },
            ..ServeSettings::default()
        }
    }

    fn problems(toml_text: &str, flags: ServeSettings) -> String {
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
            ServeSettings {
                model: ServeModelSettings {
                    formula: Some(Parsed::new("megatron,detailed")),
                    ..flags().model
                },
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
            ServeSettings {
                hardware: HardwareSettings {
                    gpus: Some(16),
                    ..HardwareSettings::default()
                },
                web: WebSettings {
                    listen_address: Some(":10078".into()),
                    ..WebSettings::default()
                },
                ..ServeSettings::default()
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
        let config = resolve(ServeSettings::default(), flags()).unwrap();
        assert_eq!(config.listen_address.port(), defaults::PORT);
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
            ServeSettings {
                hardware: HardwareSettings {
                    gpu: Some("a100-sxm".into()),
                    ..HardwareSettings::default()
                },
                ..ServeSettings::default()
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
            ServeSettings {
                tail_flags: TailSettings {
                    run: Some("r".into()),
                    ..TailSettings::default()
                },
                ..flags()
            },
        );
        assert!(
            message.contains("tail.run") && message.contains("--tail.path"),
            "{message}"
        );
    }

    /// A flag's value that does not parse is listed once, with the file's problems; a flag that
    /// overrides a bad file value leaves no problem of it.
    #[test]
    fn a_bad_flag_value_joins_the_list_and_a_flag_overrides_a_bad_file_value() {
        let bad_flags = ServeSettings {
            tail_flags: TailSettings {
                read_from: Some(Parsed::new("start")),
                ..TailSettings::default()
            },
            ..flags()
        };
        let message = problems(
            "[[tail]]\npath = \"/a\"\nrun = \"a\"\n[[tail]]\npath = \"/b\"\nrun = \"b\"\nmax_line_bytes = 10\n",
            bad_flags,
        );
        assert_eq!(
            message
                .matches("tail.read-from = \"start\": use beginning or end")
                .count(),
            1,
            "{message}"
        );
        assert!(message.contains("tail[1].max_line_bytes = 10"), "{message}");
        let file = parse_file(
            "[log]\nformat = \"xml\"\n[[tail]]\npath = \"/a\"\nthroughput_scope = \"all\"\n",
        )
        .unwrap();
        let overriding = ServeSettings {
            log: settings::LogSettings {
                format: Some(LogFormat::Json.into()),
                ..settings::LogSettings::default()
            },
            tail_flags: TailSettings {
                throughput_scope: Some(ThroughputScope::PerGpu.into()),
                ..TailSettings::default()
            },
            ..flags()
        };
        let config = resolve(file, overriding).unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.tails[0].scope, ThroughputScope::PerGpu);
    }

    /// `--attention` and `--recompute` that do not parse are named as the flags they are (there
    /// may be no file at all: `logs`, `demo`); the file's keys keep their own names.
    #[test]
    fn a_bad_model_choice_flag_is_named_as_the_flag() {
        let mut bad_flags = flags();
        bad_flags.model.model.attention = Some(Parsed::new("half"));
        bad_flags.model.model.recompute = Some(Parsed::new("most"));
        let message = problems("", bad_flags);
        assert!(
            message.contains("--attention = \"half\": use full or causal"),
            "{message}"
        );
        assert!(
            message.contains("--recompute = \"most\": use none, selective or full"),
            "{message}"
        );
        assert!(!message.contains("model.attention"), "{message}");
        let message = problems("[model]\nattention = \"half\"\n", flags());
        assert!(
            message.contains("model.attention = \"half\": use full or causal"),
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
        assert_eq!(file.model.model.model.as_deref(), Some("gpt2"));
        assert_eq!(file.tail[0].path, ["/logs/a.jsonl"]);
        let resolved = resolve(file, ServeSettings::default())
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
            ServeSettings {
                web: WebSettings {
                    telemetry_path: Some("/-/ready".into()),
                    ..WebSettings::default()
                },
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
                ServeSettings {
                    web: WebSettings {
                        telemetry_path: Some(path.into()),
                        ..WebSettings::default()
                    },
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
                ServeSettings::default(),
                ServeSettings {
                    web: WebSettings {
                        telemetry_path: Some(path.into()),
                        ..WebSettings::default()
                    },
                    ..flags()
                },
            );
            assert!(config.is_ok(), "{path}: {:?}", config.err());
        }
    }
}
