//! `mfu-exporter gpus`: the dense peak table, memory size and bandwidth, with each figure's source.

use std::process::ExitCode;

use clap::Args;

use crate::accounting::gpus::{self, Dtype};

#[derive(Debug, Args)]
pub struct GpusArgs {
    /// Also print every alias each GPU is known by (names nvidia-smi and others print).
    #[arg(long)]
    pub aliases: bool,
}

pub fn run(args: &GpusArgs) -> anyhow::Result<ExitCode> {
    println!(
        "Dense peak TFLOP/s per device (never 2:4 sparse), by precision; device memory (GiB) and its bandwidth (TB/s).\n"
    );
    print!("{:<15}", "GPU");
    for dtype in Dtype::ALL {
        print!(" {:>9}", dtype.as_str());
    }
    println!(" {:>7} {:>7} {:<9}  NAME", "mem GiB", "TB/s", "basis");
    for spec in gpus::all() {
        print!("{:<15}", spec.id);
        for dtype in Dtype::ALL {
            let cell = spec
                .peak_flops_per_second
                .get(dtype)
                .map_or_else(|| "-".to_string(), |peak| format!("{:.1}", peak / 1e12));
            print!(" {cell:>9}");
        }
        println!(
            " {:>7} {:>7.2} {:<9}  {}",
            spec.memory_bytes() >> 30,
            spec.memory_bandwidth_bytes_per_second() / 1e12,
            spec.basis.as_str(),
            spec.name
        );
    }
    println!("\nSources:");
    for spec in gpus::all() {
        let note = if spec.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", spec.note)
        };
        println!("  {:<15} {}{}", spec.id, spec.source, note);
        println!("  {:<15} memory: {}", "", spec.memory_source);
        if args.aliases && !spec.aliases.is_empty() {
            println!("  {:<15} aliases: {}", "", spec.aliases.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
