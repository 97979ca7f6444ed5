//! The `mfu-exporter` binary: parse the command line, run, report the error chain.

use std::process::ExitCode;

fn main() -> ExitCode {
    match mfu_exporter::cli::run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mfu-exporter: error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
