//! `config::parse_file` (the exporter's TOML config) and then `config::resolve` with the flags a
//! typical start-up gives (`--model gpt2 --gpu a100-sxm`), so that every section is validated.
//!
//! `push.token_file` names a file that `resolve` reads; a path that the input chooses could name
//! a device that never ends, so it is replaced with one that does not exist (which exercises the
//! error path). Nothing else reads the file system, since the model comes from the flags.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use mfu_exporter::config::{self, ServeSettings};
use mfu_exporter::ingest::format::records::parse_line;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut file = match config::parse_file(text) {
        Ok(file) => file,
        Err(message) => {
            assert!(!message.is_empty());
            return;
        }
    };
    if file.push.token_file.is_some() {
        file.push.token_file = Some(PathBuf::from("/nonexistent/mfu-exporter-fuzz/token"));
    }
    let mut flags = ServeSettings::default();
    flags.model.model.model = Some("gpt2".into());
    flags.hardware.gpu = Some("a100-sxm".into());
    match config::resolve(file, flags) {
        Ok(resolved) => {
            let flops = resolved.spec.accounting.palm;
            assert!(flops.training.is_finite() && flops.training > 0.0, "{flops:?}");
            // MFU divides by the peak: an accepted peak must be a usable number.
            let hardware = &resolved.spec.hardware;
            assert!(
                hardware.peak_flops_per_gpu.is_finite() && hardware.peak_flops_per_gpu > 0.0,
                "{hardware:?}"
            );
            assert!(hardware.peak_flops().is_finite(), "{hardware:?}");
            assert!(resolved.push.max_body_bytes > 0 && resolved.push.max_runs > 0);
            assert!(!resolved.stale_after.is_zero() && !resolved.push.expire_after.is_zero());
            assert!(resolved.push.token.is_none());
            // Every resolved mapping must parse a line without trouble.
            for tail in &resolved.tails {
                let _ = parse_line(
                    &tail.format,
                    br#"{"tokens_per_sec": 1234.5, "step": 1, "metrics": {"tps": 2}}"#,
                );
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            assert!(!errors.to_string().is_empty());
        }
    }
});
