//! `mfu-exporter models`: the bundled presets and their sizes.

use std::process::ExitCode;

use clap::Args;

use crate::accounting::params;
use crate::model_config;
use crate::units;

#[derive(Debug, Args)]
pub struct ModelsArgs {}

pub fn run(_args: &ModelsArgs) -> anyhow::Result<ExitCode> {
    println!(
        "{:<16} {:<12} {:>10} {:>10} {:>8}",
        "PRESET", "MODEL_TYPE", "TOTAL", "ACTIVE", "CONTEXT"
    );
    for name in model_config::preset_names() {
        let model = model_config::load(name)?.model;
        let counts = params::count(&model);
        println!(
            "{:<16} {:<12} {:>10} {:>10} {:>8}",
            name,
            model.family.model_type(),
            units::count(counts.total),
            units::count(counts.active),
            model.default_seq_len
        );
    }
    println!("\nUse a preset with --model NAME, or give the path to any config.json.");
    Ok(ExitCode::SUCCESS)
}
