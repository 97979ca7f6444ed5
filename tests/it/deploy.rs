//! Checks of what users import and deploy: the Grafana dashboard (identity, template variables, units, data source, and the metric names its queries use against the exporter's metric contract) and the PrometheusRule copy of the rule file.
//!
//! The PromQL here is read by a small lexer that only tells metric names,
//! label matchers and range windows apart; evaluating the queries is left to
//! `.ci/check-deploy` (promtool) and to the tests that run a real Prometheus.
//! YAML is compared as text, since the PrometheusRule is generated from the
//! plain rule file by indenting it; `.ci/check-deploy` also compares the two
//! parsed.

use std::path::PathBuf;

use serde_json::Value;

/// Every metric name a dashboard query may use: the exporter's metric
/// contract, the standard process metrics, Prometheus's `up`, and the
/// recording rules of `deploy/prometheus/rules/`.
const CONTRACT_METRICS: &[&str] = &[
    // Counters of a run.
    "training_tokens_total",
    "training_steps_total",
    "training_model_flops_total",
    "training_restarts_total",
    "training_goodput_seconds_total",
    "training_badput_seconds_total",
    "training_wasted_tokens_total",
    // Gauges absent while a run is stale.
    "training_tokens_per_second",
    "training_achieved_flops_per_second",
    "training_mfu_ratio",
    "training_hfu_ratio",
    "training_reported_mfu_ratio",
    // The step-duration histogram.
    "training_step_duration_seconds_bucket",
    "training_step_duration_seconds_sum",
    "training_step_duration_seconds_count",
    // Gauges always present for a known run.
    "training_peak_flops_per_second",
    "training_gpus",
    "training_model_flops_per_token",
    "training_model_parameters",
    "training_step",
    "training_loss",
    "training_last_update_timestamp_seconds",
    "training_run_info",
    // Gauges present once the log gives them.
    "training_ideal_step_seconds",
    "training_step_time_deviation_seconds",
    "training_steps_planned",
    // The exporter's own.
    "mfu_exporter_build_info",
    "mfu_exporter_lines_read_total",
    "mfu_exporter_lines_ignored_total",
    "mfu_exporter_bytes_read_total",
    "mfu_exporter_parse_errors_total",
    "mfu_exporter_file_rotations_total",
    "mfu_exporter_file_truncations_total",
    "mfu_exporter_push_requests_total",
    "mfu_exporter_cpu_seconds_total",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "process_threads",
    // Added by Prometheus.
    "up",
    // Recording rules.
    "job:training_mfu:ratio_rate5m",
    "job:training_tokens:rate5m",
    "gpu:training_tensor_active:ratio",
    "gpu:training_hardware_bound:ratio",
    "job:training_tensor_active:ratio",
    "job:training_hardware_bound:ratio",
    "job:training_hardware_bound_flops_per_second",
];

/// Metrics of NVIDIA's dcgm-exporter that the GPU row shows, selected by the
/// pods of the exporters rather than by the exporters' job and instance.
const DCGM_METRICS: &[&str] = &[
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_MAX_SM_CLOCK",
];

/// The window of "MFU now", the one definition the dashboard, the recording
/// rule `job:training_mfu:ratio_rate5m` and the TrainingMFULow alert share.
const MFU_NOW_WINDOW: &str = "5m";

/// The shortest explicit range window a rate may use instead of
/// `$__rate_interval`: long windows are deliberate (effective MFU over 1h or
/// 24h); short fixed ones break when the scrape interval changes.
const LONG_WINDOW_SECONDS: u64 = 3600;

/// A file of the repository, by its path from the repository root.
fn read(relative_path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative_path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn dashboard() -> Value {
    let path = "grafana/dashboards/training-efficiency.json";
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// The panels that show data: every panel but the rows that group them.
fn data_panels(dashboard: &Value) -> Vec<&Value> {
    let panels = dashboard["panels"]
        .as_array()
        .expect("dashboard has a panels array");
    panels
        .iter()
        .filter(|panel| panel["type"] != "row")
        .collect()
}

fn title(panel: &Value) -> &str {
    panel["title"].as_str().unwrap_or("<untitled>")
}

/// Every query of every panel, with the panel's title.
fn panel_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in data_panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {:?}: a target has no expr", title(panel)));
            queries.push((title(panel).to_string(), expr.to_string()));
        }
    }
    queries
}

fn variable<'a>(dashboard: &'a Value, name: &str) -> &'a Value {
    dashboard["templating"]["list"]
        .as_array()
        .expect("dashboard has templating.list")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("dashboard has no template variable {name:?}"))
}

/// The query of a query variable, as `(selector, label)` of `label_values(selector, label)`.
fn variable_query(variable: &Value) -> (String, String) {
    let query = variable["query"]["query"]
        .as_str()
        .or(variable["query"].as_str())
        .expect("variable has a query");
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("variable query {query:?} is not label_values(selector, label)"));
    let (selector, label) = inner
        .rsplit_once(',')
        .expect("label_values has two arguments");
    (selector.trim().to_string(), label.trim().to_string())
}

// ---------------------------------------------------------------------------
// A minimal PromQL lexer.

/// Words that are never metric names: aggregations, binary and set
/// operators, modifiers and literals.
const KEYWORDS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "atan2",
    "offset",
    "bool",
    "inf",
    "nan",
    "Inf",
    "NaN",
];

/// Words followed by a parenthesized list of label names.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// A metric selector found in a query: the metric name and the text between
/// its braces ("" when it has none).
#[derive(Debug, PartialEq)]
struct Selector {
    metric: String,
    matchers: String,
}

/// Index just past the closing `close` that matches the `open` at `start`,
/// skipping string literals.
fn skip_balanced(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = skip_string(chars, i);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// Index just past the string literal starting at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn is_identifier_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn skip_whitespace(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

/// The metric selectors of a PromQL expression, in order.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '[' {
            i = skip_balanced(&chars, i, '[', ']');
        } else if c == '{' {
            // A selector without a metric name, such as {__name__=~"..."}.
            let end = skip_balanced(&chars, i, '{', '}');
            found.push(Selector {
                metric: String::new(),
                matchers: chars[i + 1..end - 1].iter().collect(),
            });
            i = end;
        } else if c == '$' {
            // A Grafana variable: $name or ${name}.
            i += 1;
            if i < chars.len() && chars[i] == '{' {
                i = skip_balanced(&chars, i, '{', '}');
            } else {
                while i < chars.len() && is_identifier_char(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // A number or a duration: 0.35, 1e6, 1e-9, 10m, 1h30m.
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                let exponent_sign = (d == '-' || d == '+') && matches!(chars[i - 1], 'e' | 'E');
                if d.is_ascii_alphanumeric() || d == '.' || d == '_' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
        } else if is_identifier_start(c) {
            let start = i;
            while i < chars.len() && is_identifier_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_whitespace(&chars, i);
            let followed_by = chars.get(next).copied();
            if LABEL_LIST_KEYWORDS.contains(&word.as_str()) {
                if followed_by == Some('(') {
                    i = skip_balanced(&chars, next, '(', ')');
                }
            } else if KEYWORDS.contains(&word.as_str()) || followed_by == Some('(') {
                // An operator, or a function whose arguments are read on.
            } else if followed_by == Some('{') {
                let end = skip_balanced(&chars, next, '{', '}');
                found.push(Selector {
                    metric: word,
                    matchers: chars[next + 1..end - 1].iter().collect(),
                });
                i = end;
            } else {
                found.push(Selector {
                    metric: word,
                    matchers: String::new(),
                });
            }
        } else {
            i += 1;
        }
    }
    found
}

/// The range windows of the rate-like calls (`rate`, `irate`, `increase`) of
/// an expression, in order: the text between the brackets of each call's
/// range selector.
fn rate_windows(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut windows = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' || chars[i] == '\'' || chars[i] == '`' {
            i = skip_string(&chars, i);
            continue;
        }
        if is_identifier_start(chars[i]) && (i == 0 || !is_identifier_char(chars[i - 1])) {
            let start = i;
            while i < chars.len() && is_identifier_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let open = skip_whitespace(&chars, i);
            if matches!(word.as_str(), "rate" | "irate" | "increase")
                && chars.get(open) == Some(&'(')
            {
                let close = skip_balanced(&chars, open, '(', ')');
                let call: String = chars[open..close].iter().collect();
                let window = call
                    .rfind('[')
                    .and_then(|from| {
                        call[from + 1..]
                            .find(']')
                            .map(|to| call[from + 1..from + 1 + to].to_string())
                    })
                    .unwrap_or_default();
                windows.push(window);
            }
            continue;
        }
        i += 1;
    }
    windows
}

/// Seconds of a Prometheus duration such as `1h`, `90m` or `1h30m`; `None`
/// when it is not one.
fn duration_seconds(text: &str) -> Option<u64> {
    let mut total = 0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_length = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_length] {
            "ms" => 0,
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            "w" => 604_800,
            "y" => 31_536_000,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_length..];
    }
    Some(total)
}

// ---------------------------------------------------------------------------
// The lexer's own cases.

#[test]
fn selectors_finds_metric_names_and_their_matchers() {
    fn check(expr: &str, expected: &[(&str, &str)]) {
        let got: Vec<(String, String)> = selectors(expr)
            .into_iter()
            .map(|s| (s.metric, s.matchers))
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(m, l)| (m.to_string(), l.to_string()))
            .collect();
        assert_eq!(got, expected, "selectors of {expr:?}");
    }
    check("up", &[("up", "")]);
    check(r#"up{job=~"$job"}"#, &[("up", r#"job=~"$job""#)]);
    check(
        r#"sum by (job, formula) (rate(a_total{x="}"}[5m]))"#,
        &[("a_total", r#"x="}""#)],
    );
    check("time() - min by (run) (b)", &[("b", "")]);
    check(
        r#"label_replace(c, "peak_dtype", "$1", "dtype", "(.+)")"#,
        &[("c", "")],
    );
    check("a / on (job) group_left () b", &[("a", ""), ("b", "")]);
    check(
        "a and on (job, instance) b offset 10m",
        &[("a", ""), ("b", "")],
    );
    check("round(a * 1e6) / 1e6 > bool 0.35", &[("a", "")]);
    check("x < 1e-9 # a comment about y\n", &[("x", "")]);
    check("rate(a[$__rate_interval])", &[("a", "")]);
    check("count(a == 0) or vector(0)", &[("a", "")]);
    check(
        "bottomk(10, job:training_mfu:ratio_rate5m)",
        &[("job:training_mfu:ratio_rate5m", "")],
    );
    check(
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        &[("h_bucket", "")],
    );
}

#[test]
fn rate_windows_reads_the_range_of_each_rate() {
    fn check(expr: &str, expected: &[&str]) {
        assert_eq!(rate_windows(expr), expected, "rate windows of {expr:?}");
    }
    check("rate(a[5m])", &["5m"]);
    check(
        "sum(rate(a{x=\"[1m]\"}[$__rate_interval]))",
        &["$__rate_interval"],
    );
    check("increase(a[1h]) / irate(b[2m])", &["1h", "2m"]);
    check("max_over_time(a[5m]) + deriv(b[1m])", &[]);
    check("rate(a)", &[""]);
}

#[test]
fn duration_seconds_reads_prometheus_durations() {
    fn check(text: &str, expected: Option<u64>) {
        assert_eq!(duration_seconds(text), expected, "duration {text:?}");
    }
    check("5m", Some(300));
    check("1h", Some(3600));
    check("24h", Some(86400));
    check("1h30m", Some(5400));
    check("7d", Some(604_800));
    check("", None);
    check("$__rate_interval", None);
    check("5x", None);
}

// ---------------------------------------------------------------------------
// The dashboard.

#[test]
fn dashboard_has_its_stable_uid() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "mfu-exporter-training");
    assert!(
        dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
        "dashboard has a title"
    );
    assert!(
        dashboard["id"].is_null(),
        "a dashboard to import or provision carries no database id"
    );
}

#[test]
fn dashboard_takes_its_data_source_from_a_variable() {
    let dashboard = dashboard();
    assert!(
        dashboard.get("__inputs").is_none(),
        "the dashboard is provisionable: no __inputs"
    );
    let datasource = variable(&dashboard, "datasource");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
}

#[test]
fn dashboard_filters_by_job_instance_and_run_with_multi_select_and_all() {
    let dashboard = dashboard();
    for (name, depends_on) in [
        ("job", &[][..]),
        ("instance", &["job"][..]),
        ("run", &["job", "instance"][..]),
    ] {
        let variable = variable(&dashboard, name);
        assert_eq!(variable["type"], "query", "variable {name}");
        assert_eq!(variable["multi"], true, "variable {name} is multi-select");
        assert_eq!(variable["includeAll"], true, "variable {name} includes All");
        assert_eq!(
            variable["datasource"]["uid"], "${datasource}",
            "variable {name} queries the selected data source"
        );
        let (selector, _) = variable_query(variable);
        for other in depends_on {
            assert!(
                selector.contains(&format!("{other}=~\"${other}\"")),
                "variable {name} narrows to the selected {other}: {selector:?}"
            );
        }
    }
}

#[test]
fn every_panel_has_a_unit() {
    let dashboard = dashboard();
    for panel in data_panels(&dashboard) {
        let unit = panel["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .unwrap_or("");
        assert!(
            !unit.is_empty(),
            "panel {:?} has no unit (fieldConfig.defaults.unit)",
            title(panel)
        );
    }
}

#[test]
fn panel_units_match_what_they_show() {
    // (words in the title, unit): ratios in percentunit, rates of FLOPs in
    // flops, durations in seconds.
    let expectations = [
        ("MFU", "percentunit"),
        ("FLOP/s", "flops"),
        ("Step time", "s"),
        ("Time since", "s"),
        ("Tokens per second", "short"),
    ];
    let dashboard = dashboard();
    for panel in data_panels(&dashboard) {
        for (words, unit) in expectations {
            if title(panel).contains(words) {
                assert_eq!(
                    panel["fieldConfig"]["defaults"]["unit"],
                    unit,
                    "panel {:?} shows {words}, so its unit is {unit}",
                    title(panel)
                );
            }
        }
    }
}

#[test]
fn every_rate_uses_the_rate_interval_or_a_long_window() {
    let dashboard = dashboard();
    for (panel, expr) in panel_queries(&dashboard) {
        for window in rate_windows(&expr) {
            let long = duration_seconds(&window).is_some_and(|s| s >= LONG_WINDOW_SECONDS);
            let mfu_now = window == MFU_NOW_WINDOW && expr.contains("training_model_flops_total");
            assert!(
                window == "$__rate_interval" || long || mfu_now,
                "panel {panel:?}: window [{window}] is neither $__rate_interval, the MFU-now window of the FLOP counters nor at least {LONG_WINDOW_SECONDS}s in {expr:?}"
            );
        }
    }
}

#[test]
fn every_target_queries_the_selected_data_source() {
    let dashboard = dashboard();
    for panel in data_panels(&dashboard) {
        assert_eq!(
            panel["datasource"]["uid"],
            "${datasource}",
            "panel {:?} data source",
            title(panel)
        );
        let targets = panel["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {:?} has no targets", title(panel)));
        assert!(
            !targets.is_empty(),
            "panel {:?} has no targets",
            title(panel)
        );
        for target in targets {
            assert_eq!(
                target["datasource"]["uid"],
                "${datasource}",
                "panel {:?} target data source",
                title(panel)
            );
            assert_eq!(
                target["datasource"]["type"],
                "prometheus",
                "panel {:?} target data source type",
                title(panel)
            );
        }
    }
}

#[test]
fn every_metric_in_a_query_is_in_the_contract() {
    let dashboard = dashboard();
    let mut queries = panel_queries(&dashboard);
    for name in ["job", "instance", "run"] {
        let (selector, _) = variable_query(variable(&dashboard, name));
        queries.push((format!("variable {name}"), selector));
    }
    for (where_, expr) in queries {
        let found = selectors(&expr);
        assert!(!found.is_empty(), "{where_}: no metric in {expr:?}");
        for selector in found {
            assert!(
                CONTRACT_METRICS.contains(&selector.metric.as_str())
                    || DCGM_METRICS.contains(&selector.metric.as_str()),
                "{where_}: metric {:?} is not in the exporter's metric contract (query {expr:?})",
                selector.metric
            );
        }
    }
}

#[test]
fn every_selector_follows_the_template_variables() {
    let dashboard = dashboard();
    for (panel, expr) in panel_queries(&dashboard) {
        for selector in selectors(&expr) {
            if DCGM_METRICS.contains(&selector.metric.as_str()) {
                // dcgm-exporter's series carry the pod that uses the GPU.
                for matcher in [r#"namespace=~"$namespace""#, r#"pod=~"$pod""#] {
                    assert!(
                        selector.matchers.contains(matcher),
                        "panel {panel:?}: {} lacks {matcher} in {expr:?}",
                        selector.metric
                    );
                }
                continue;
            }
            let mut required = vec![r#"job=~"$job""#, r#"instance=~"$instance""#];
            // Series of a run carry `run`; the exporter's own and `up` do not.
            if selector.metric.starts_with("training_") {
                required.push(r#"run=~"$run""#);
            }
            for matcher in required {
                assert!(
                    selector.matchers.contains(matcher),
                    "panel {panel:?}: {} lacks {matcher} in {expr:?}",
                    selector.metric
                );
            }
        }
    }
}

#[test]
fn panel_ids_are_unique() {
    let dashboard = dashboard();
    let mut ids: Vec<i64> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().expect("panel id"))
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "panel ids repeat");
}

// ---------------------------------------------------------------------------
// The PrometheusRule.

/// The lines from the first one equal to `start` to the end.
fn lines_from<'a>(text: &'a str, start: &str, file: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|line| *line == start)
        .unwrap_or_else(|| panic!("{file} has no line {start:?}"));
    lines[first..].to_vec()
}

#[test]
fn prometheusrule_carries_the_plain_rule_groups_verbatim() {
    let plain_file = "deploy/prometheus/rules/mfu-exporter.rules.yml";
    let operator_file = "deploy/prometheus/prometheusrule.yaml";
    let plain = read(plain_file);
    let operator = read(operator_file);
    // spec.groups is the plain file's `groups:` block indented by two spaces.
    let expected: Vec<String> = lines_from(&plain, "groups:", plain_file)
        .into_iter()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("  {line}")
            }
        })
        .collect();
    let got = lines_from(&operator, "  groups:", operator_file);
    for (number, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            got, expected,
            "{operator_file} differs from {plain_file} at line {} of the groups; regenerate it as its header says",
            number + 1
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "{operator_file} and {plain_file} hold groups of different lengths"
    );
    assert!(
        operator.contains("\nkind: PrometheusRule\n"),
        "{operator_file} is a PrometheusRule"
    );
    assert!(
        operator.contains("\napiVersion: monitoring.coreos.com/v1\n"),
        "{operator_file} apiVersion"
    );
}

// ---------------------------------------------------------------------------
// One definition of MFU now, one threshold.

/// The threshold of TrainingMFULow: the number in its `... < X` condition.
fn mfu_low_threshold() -> f64 {
    let rules = read("deploy/prometheus/rules/mfu-exporter.rules.yml");
    let condition = r#"job:training_mfu:ratio_rate5m{formula="palm"} < "#;
    let start = rules
        .find(condition)
        .expect("TrainingMFULow compares job:training_mfu:ratio_rate5m with a threshold")
        + condition.len();
    let number: String = rules[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|e| panic!("TrainingMFULow threshold {number:?}: {e}"))
}

#[test]
fn dashboard_mfu_thresholds_equal_the_mfu_low_alert_threshold() {
    let threshold = mfu_low_threshold();
    let dashboard = dashboard();
    let mut checked = 0;
    for panel in data_panels(&dashboard) {
        let defaults = &panel["fieldConfig"]["defaults"];
        if defaults["unit"] != "percentunit" || !title(panel).contains("MFU") {
            continue;
        }
        let Some(steps) = defaults["thresholds"]["steps"].as_array() else {
            continue;
        };
        let values: Vec<f64> = steps.iter().filter_map(|s| s["value"].as_f64()).collect();
        assert_eq!(
            values,
            [threshold],
            "panel {:?}: its colours change at {values:?}, the TrainingMFULow alert at {threshold}",
            title(panel)
        );
        assert_eq!(
            steps[0]["color"],
            "red",
            "panel {:?}: below the threshold is red",
            title(panel)
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} MFU panels have thresholds");
}

#[test]
fn mfu_now_is_the_five_minute_rate_of_the_recording_rule_and_the_alert() {
    let rules = read("deploy/prometheus/rules/mfu-exporter.rules.yml");
    assert!(
        rules.contains(&format!(
            "rate(training_model_flops_total[{MFU_NOW_WINDOW}])"
        )),
        "the recording rule's window is {MFU_NOW_WINDOW}"
    );
    let dashboard = dashboard();
    for (panel, expr) in panel_queries(&dashboard) {
        if !expr.contains("rate(training_model_flops_total") {
            continue;
        }
        for window in rate_windows(&expr) {
            let long = duration_seconds(&window).is_some_and(|s| s >= LONG_WINDOW_SECONDS);
            assert!(
                window == MFU_NOW_WINDOW || long,
                "panel {panel:?}: MFU over [{window}] is neither MFU now ([{MFU_NOW_WINDOW}]) nor an effective MFU: {expr:?}"
            );
        }
    }
    let page = read("src/landing.rs");
    assert!(
        page.contains("job:training_mfu:ratio_rate5m"),
        "the landing page says how its MFU relates to MFU now"
    );
}

/// Effective MFU over 1h or 24h shows only once Prometheus holds that much of
/// the run, and says so until then.
#[test]
fn effective_mfu_waits_for_enough_history() {
    let dashboard = dashboard();
    let mut checked = 0;
    for panel in data_panels(&dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let long: Vec<String> = rate_windows(expr)
                .into_iter()
                .filter(|w| duration_seconds(w).is_some_and(|s| s >= LONG_WINDOW_SECONDS))
                .collect();
            if !expr.contains("training_model_flops_total") || long.is_empty() {
                continue;
            }
            for window in long {
                assert!(
                    expr.contains(&format!("offset {window})")),
                    "panel {:?}: effective MFU over [{window}] does not wait for {window} of history: {expr:?}",
                    title(panel)
                );
            }
            if panel["type"] == "stat" {
                assert_eq!(
                    panel["fieldConfig"]["defaults"]["noValue"],
                    "not enough history yet",
                    "panel {:?}",
                    title(panel)
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} effective-MFU queries");
}

/// With All selected, no panel counts another job's targets: the job and
/// node variables list only targets that expose mfu_exporter_build_info,
/// and the metrics every target has (`up`, `process_*`) are joined with it.
#[test]
fn panels_count_only_the_exporters_own_targets() {
    let dashboard = dashboard();
    for name in ["job", "instance"] {
        let variable = variable(&dashboard, name);
        let (selector, _) = variable_query(variable);
        assert!(
            selector.starts_with("mfu_exporter_build_info"),
            "variable {name} lists the exporters' targets: {selector:?}"
        );
        assert!(
            variable["allValue"].is_null(),
            "variable {name}: All is the listed values, not a regex matching every target"
        );
    }
    for (panel, expr) in panel_queries(&dashboard) {
        for selector in selectors(&expr) {
            if selector.metric == "up" || selector.metric.starts_with("process_") {
                assert!(
                    expr.contains("and on (job, instance)")
                        && expr.contains("mfu_exporter_build_info{"),
                    "panel {panel:?}: {} is not narrowed to the exporters' targets: {expr:?}",
                    selector.metric
                );
            }
        }
    }
    let cpu = panel_queries(&dashboard)
        .into_iter()
        .find(|(panel, _)| panel == "Exporter CPU")
        .expect("an Exporter CPU panel");
    assert!(
        cpu.1.contains("rate(mfu_exporter_cpu_seconds_total{"),
        "exporter CPU from the sub-second counter: {}",
        cpu.1
    );
}

#[test]
fn dashboard_marks_restarts_and_shows_the_pods_gpus() {
    let dashboard = dashboard();
    let annotations = dashboard["annotations"]["list"].as_array().unwrap();
    assert!(
        annotations.iter().any(|a| a["expr"]
            .as_str()
            .is_some_and(|e| e.contains("training_restarts_total{"))),
        "an annotation marks trainer restarts"
    );
    let queries = panel_queries(&dashboard);
    for metric in DCGM_METRICS {
        assert!(
            queries.iter().any(|(_, expr)| expr.contains(metric)),
            "a GPU panel shows {metric}"
        );
    }
}

/// The demo's simulated job, in normal operation, stays above the shipped
/// TrainingMFULow threshold over every 5-minute window, checkpoint pauses
/// and its slow episode included: the demo does not alert on itself.
#[test]
fn demo_runs_above_the_mfu_low_alert_threshold() {
    use mfu_exporter::cli::demo;
    use mfu_exporter::config::{self, ServeSettings};
    use mfu_exporter::simulate::Simulation;

    let flags = demo::settings(Default::default(), Default::default());
    let config = config::resolve(ServeSettings::default(), flags).expect("the demo's config");
    let spec = &config.spec;
    let flops_per_token = spec.accounting.palm.training;
    let peak = spec.hardware.peak_flops();
    let mut simulation = Simulation::new(demo::profile(spec), 42);
    // (end time, tokens) of each step, pauses included in the clock.
    let mut clock = 0.0;
    let mut ends = vec![(0.0, 0.0)];
    while clock < 3.0 * 3600.0 {
        let step = simulation.next_step();
        clock += step.pause_before_seconds + step.step_seconds;
        ends.push((clock, step.tokens as f64));
    }
    let window = 300.0;
    let threshold = mfu_low_threshold();
    let mut lowest = f64::INFINITY;
    let mut first = 0;
    let mut tokens = 0.0;
    for (time, step_tokens) in ends.iter().skip(1) {
        tokens += step_tokens;
        while ends[first + 1].0 <= time - window {
            first += 1;
            tokens -= ends[first].1;
        }
        if *time >= window {
            let mfu = tokens * flops_per_token / (time - ends[first].0) / peak;
            lowest = lowest.min(mfu);
        }
    }
    assert!(
        lowest > threshold + 0.02,
        "the demo's lowest 5-minute MFU {lowest:.3} is within 2 points of TrainingMFULow's {threshold}"
    );
}

/// The Kubernetes example shows both layouts: every node logging its share
/// (one exporter per node with the node's GPUs) and rank 0 logging the whole
/// job (one exporter with all the job's GPUs, reading rank 0's log only).
#[test]
fn kubernetes_example_shows_both_throughput_layouts() {
    let configmap = read("deploy/kubernetes/configmap.yaml");
    let job = read("deploy/kubernetes/training-job.yaml");
    let flag = |name: &str| -> u64 {
        job.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("- --{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("training-job.yaml has no --{name}"))
    };
    let (nodes, per_node) = (flag("nnodes"), flag("nproc-per-node"));
    let layout = |key: &str| -> String {
        configmap
            .lines()
            .skip_while(|l| l.trim_start() != format!("{key}: |"))
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| format!("{}\n", l.trim()))
            .collect()
    };
    let per_node_layout = layout("config.toml");
    assert!(
        per_node_layout.contains(&format!("\ngpus = {per_node}\n")),
        "config.toml: every node logs its share, so gpus is the node's {per_node}"
    );
    let rank0_layout = layout("config-rank0.toml");
    assert!(
        rank0_layout.contains(&format!("\ngpus = {}\n", nodes * per_node)),
        "config-rank0.toml: rank 0 logs the whole job, so gpus is the job's {}",
        nodes * per_node
    );
    assert!(
        rank0_layout.contains("path = \"/logs/train-0.jsonl\""),
        "config-rank0.toml reads rank 0's log only"
    );
    assert!(
        job.contains("config-rank0.toml") && job.contains("--config=/etc/mfu-exporter/config.toml"),
        "training-job.yaml says which layout it uses and where the other one goes"
    );
}

/// Every alert's `runbook_url` is absolute: the runbook in the repository Cargo.toml names,
/// at an anchor that is one of the runbook's sections.
#[test]
fn runbook_urls_are_absolute_and_name_a_runbook_section() {
    let cargo = read("Cargo.toml");
    let repository = cargo
        .lines()
        .find_map(|line| line.strip_prefix("repository = "))
        .map(|value| value.trim_matches('"'))
        .expect("Cargo.toml names its repository");
    let base = format!("{repository}/blob/main/deploy/prometheus/RUNBOOK.md#");
    let runbook = read("deploy/prometheus/RUNBOOK.md");
    let anchors: Vec<String> = runbook
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .map(|title| title.trim().to_lowercase())
        .collect();
    for file in [
        "deploy/prometheus/rules/mfu-exporter.rules.yml",
        "deploy/prometheus/prometheusrule.yaml",
    ] {
        let text = read(file);
        let urls: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("runbook_url: "))
            .map(|value| value.trim_matches('"'))
            .collect();
        let alerts = text
            .lines()
            .filter(|line| line.trim().starts_with("- alert: "))
            .count();
        assert_eq!(
            urls.len(),
            alerts,
            "{file}: one runbook_url per alert: {urls:?}"
        );
        for url in urls {
            let anchor = url
                .strip_prefix(&base)
                .unwrap_or_else(|| panic!("{file}: {url} does not start with {base}"));
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{file}: {url}: no section #{anchor} in RUNBOOK.md ({anchors:?})"
            );
        }
    }
}
