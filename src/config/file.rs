//! `serve`'s config file: TOML read into [`ServeSettings`], with every type error and unknown key
//! listed (each naming its field and line) rather than only the first.
//!
//! A file that does not deserialize is taken apart key by key: each key of each table is tried on
//! its own, a bad one is dropped with a problem, and what is left is read as the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::settings::{
    FieldValue, LogSettings, PushSettings, ServeModelSettings, ServeSettings, TailSettings,
    WebSettings,
};
use super::ConfigErrors;
use crate::resolve::HardwareSettings;

/// Reads and parses a config file; every problem names the file and the field.
pub fn read_file(path: &Path) -> Result<ServeSettings, ConfigErrors> {
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
pub fn read_file_with_problems(path: &Path) -> Result<(ServeSettings, Vec<String>), ConfigErrors> {
    let name = |problem: &str| format!("config file {}: {problem}", path.display());
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigErrors(vec![name(&e.to_string())]))?;
    let (file, problems) =
        parse_file_with_problems(&text).map_err(|e| ConfigErrors(vec![name(&e)]))?;
    Ok((file, problems.iter().map(|problem| name(problem)).collect()))
}

/// Parses a config file's text; every problem is in the message, one a line.
pub fn parse_file(text: &str) -> Result<ServeSettings, String> {
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
pub fn parse_file_with_problems(text: &str) -> Result<(ServeSettings, Vec<String>), String> {
    // Nearly every file is valid: read it in one go, and take it apart only to explain a problem.
    if let Ok(file) = toml::from_str::<ServeSettings>(text) {
        return Ok((file, Vec::new()));
    }
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.to_string().trim_end().replace('\n', "\n    "))?;
    let mut problems = Vec::new();
    drop_bad_keys_of::<ServeModelSettings>(&mut table, "model", &mut problems);
    drop_bad_keys_of::<HardwareSettings>(&mut table, "hardware", &mut problems);
    drop_bad_keys_of::<WebSettings>(&mut table, "web", &mut problems);
    drop_bad_keys_of::<LogSettings>(&mut table, "log", &mut problems);
    drop_bad_keys_of::<PushSettings>(&mut table, "push", &mut problems);
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
                drop_bad_keys::<TailSettings>(tail, &path, &mut problems);
            }
        }
    }
    drop_bad_keys::<ServeSettings>(&mut table, "", &mut problems);
    for problem in &mut problems {
        let line = problem
            .split_once(": ")
            .and_then(|(field, _)| line_of_key(text, field));
        if let Some(line) = line {
            problem.push_str(&format!(" (line {line})"));
        }
    }
    match ServeSettings::deserialize(toml::Value::Table(table)) {
        Ok(file) => Ok((file, problems)),
        // Every key left was read on its own; together they are read the same way.
        Err(error) => {
            problems.push(error.to_string().trim_end().to_owned());
            Ok((ServeSettings::default(), problems))
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
