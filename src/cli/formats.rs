//! `mfu-exporter formats`: the built-in log formats, what each reads, and the framework versions
//! its fixtures come from.

use std::process::ExitCode;

use clap::Args;

use crate::ingest::format::Format;

#[derive(Debug, Args)]
pub struct FormatsArgs {}

pub fn run(_args: &FormatsArgs) -> anyhow::Result<ExitCode> {
    let formats = Format::builtins()?;
    let width = formats
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(4)
        .max(6);
    println!("{:width$}  DESCRIPTION", "FORMAT");
    for format in &formats {
        println!("{:width$}  {}", format.name, format.description);
        let per_device = format.per_device_fields();
        if !per_device.is_empty() {
            let names: Vec<&str> = per_device.iter().map(|f| f.as_str()).collect();
            println!("{:width$}  per device: {}", "", names.join(", "));
        }
        for version in &format.checked_against {
            println!("{:width$}  checked against {version}", "");
        }
    }
    println!();
    println!("Use one with --tail.format NAME (or format = \"NAME\" in a [[tail]] section), or give the path of");
    println!("your own format file (README.md, \"Log formats\"). Try one on a log with `mfu-exporter logs FILE --format NAME`.");
    Ok(ExitCode::SUCCESS)
}
