//! `model_config::parse` (a Hugging Face `config.json` or a nanoGPT config) and then the
//! accounting of every accepted model at several sequence lengths and option sets.
//!
//! Besides "no panic", it checks that an accepted model never leads to an overflow, to a
//! non-finite or negative FLOP count, or to parameter counts that contradict each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfu_exporter::accounting::flops::{AttentionCounting, FlopOptions, FormulaFlops, Recompute};
use mfu_exporter::accounting::Accounting;
use mfu_exporter::model_config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let model = match model_config::parse(text) {
        Ok(model) => model,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let option_sets = [
        (AttentionCounting::Full, Recompute::None, false),
        (AttentionCounting::Causal, Recompute::Selective, true),
        (AttentionCounting::Full, Recompute::Full, true),
    ];
    for seq_len in [1, model.default_seq_len, 8192, u64::MAX] {
        for (attention, recompute, include_mtp) in option_sets {
            let options = FlopOptions {
                seq_len,
                attention,
                include_mtp,
                recompute,
            };
            let accounting = Accounting::new(&model, options);
            let params = &accounting.params;
            assert!(params.active <= params.total, "{params:?}");
            assert!(params.embedding <= params.total, "{params:?}");
            assert!(params.matmul_active <= params.matmul_total, "{params:?}");
            for (name, flops) in accounting.formulas() {
                check_flops(name, &flops);
            }
            for component in &accounting.detailed.components {
                assert!(
                    component.forward.is_finite() && component.forward >= 0.0,
                    "{component:?}"
                );
            }
        }
    }
});

fn check_flops(name: &str, flops: &FormulaFlops) {
    for value in [flops.forward, flops.training, flops.hardware] {
        assert!(value.is_finite() && value >= 0.0, "{name}: {flops:?}");
    }
    assert!(flops.training >= flops.forward, "{name}: {flops:?}");
    assert!(flops.hardware >= flops.training, "{name}: {flops:?}");
}
