//! The changes that make a configuration fit a GPU's memory, ranked.
//!
//! Each candidate is the smallest step of one kind that fits, and the candidates are ranked by
//! what they cost the run, cheapest first: flash attention and sequence parallelism cost
//! nothing; a higher ZeRO stage costs communication; selective recomputation a few percent of
//! FLOPs; a smaller micro-batch arithmetic intensity; more tensor or pipeline parallelism
//! communication and bubbles; full recomputation a third more FLOPs. When no single change
//! fits, the last candidate combines them in that order.

use super::layout::{self, Layout};
use super::memory::{self, MemoryConfig};
use crate::accounting::flops::Recompute;
use crate::accounting::model::Model;

#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// The flags that change, as they would be typed.
    pub change: String,
    /// The configuration after the change.
    pub config: MemoryConfig,
    /// Bytes per GPU after the change.
    pub total_bytes: f64,
    pub fits: bool,
}

fn total(model: &Model, config: &MemoryConfig) -> f64 {
    memory::estimate(model, config).total()
}

/// Candidate steps of each kind, cheapest kind first; each kind lists its steps mildest first.
fn candidates(model: &Model, config: &MemoryConfig) -> Vec<Vec<(String, MemoryConfig)>> {
    let c = *config;
    let mut kinds = Vec::new();
    let mut free = Vec::new();
    if !c.flash_attention {
        free.push((
            "--attention-kernel flash".to_string(),
            MemoryConfig {
                flash_attention: true,
                ..c
            },
        ));
    }
    if c.layout.tensor > 1 && !c.sequence_parallel {
        free.push((
            "--sequence-parallel".to_string(),
            MemoryConfig {
                sequence_parallel: true,
                ..c
            },
        ));
    }
    kinds.push(free);
    kinds.push(
        (c.zero + 1..=3)
            .filter(|_| c.layout.dense_data_parallel() > 1)
            .map(|zero| (format!("--zero {zero}"), MemoryConfig { zero, ..c }))
            .collect(),
    );
    if c.recompute == Recompute::None && !c.flash_attention {
        kinds.push(vec![(
            "--recompute selective".to_string(),
            MemoryConfig {
                recompute: Recompute::Selective,
                ..c
            },
        )]);
    }
    let mut batch = Vec::new();
    let mut b = c.micro_batch_size / 2;
    while b >= 1 {
        batch.push((
            format!("--micro-batch-size {b}"),
            MemoryConfig {
                micro_batch_size: b,
                ..c
            },
        ));
        b /= 2;
    }
    kinds.push(batch);
    let world = c.layout.world_size();
    let regrouped = |tensor: u64, pipeline: u64| {
        let others = tensor * pipeline * c.layout.context;
        (world % others == 0).then(|| Layout {
            tensor,
            pipeline,
            data: world / others,
            ..c.layout
        })
    };
    let parallel = |flag: &str, layout: Layout| {
        let config = MemoryConfig {
            layout,
            sequence_parallel: c.sequence_parallel || layout.tensor > 1,
            ..c
        };
        let flags = if layout.data != c.layout.data {
            format!("{flag} --data-parallel {}", layout.data)
        } else {
            flag.to_string()
        };
        (flags, config)
    };
    let mut tensor = Vec::new();
    let mut t = c.layout.tensor * 2;
    while t <= 64 {
        if let Some(l) = regrouped(t, c.layout.pipeline) {
            if layout::validate(model, &l, c.seq_len, Some(world)).is_ok() {
                tensor.push(parallel(&format!("--tensor-parallel {t}"), l));
            }
        }
        t *= 2;
    }
    kinds.push(tensor);
    let mut pipeline = Vec::new();
    let mut p = c.layout.pipeline * 2;
    while p <= model.layers.len() as u64 {
        if let Some(l) = regrouped(c.layout.tensor, p) {
            if layout::validate(model, &l, c.seq_len, Some(world)).is_ok() {
                pipeline.push(parallel(&format!("--pipeline-parallel {p}"), l));
            }
        }
        p *= 2;
    }
    kinds.push(pipeline);
    if c.recompute != Recompute::Full {
        kinds.push(vec![(
            "--recompute full".to_string(),
            MemoryConfig {
                recompute: Recompute::Full,
                ..c
            },
        )]);
    }
    kinds
}

/// The ranked changes that make `config` fit in `capacity_bytes`, or, when none does alone,
/// the candidates that come closest and their combination. Empty when it already fits.
pub fn fixes(model: &Model, config: &MemoryConfig, capacity_bytes: f64) -> Vec<Fix> {
    if total(model, config) <= capacity_bytes {
        return Vec::new();
    }
    let kinds = candidates(model, config);
    let mut fitting = Vec::new();
    let mut closest = Vec::new();
    for kind in &kinds {
        let evaluated: Vec<Fix> = kind
            .iter()
            .map(|(change, c)| {
                let total_bytes = total(model, c);
                Fix {
                    change: change.clone(),
                    config: *c,
                    total_bytes,
                    fits: total_bytes <= capacity_bytes,
                }
            })
            .collect();
        match evaluated.iter().find(|f| f.fits) {
            Some(first) => fitting.push(first.clone()),
            None => {
                if let Some(best) = evaluated
                    .into_iter()
                    .min_by(|a, b| a.total_bytes.total_cmp(&b.total_bytes))
                {
                    closest.push(best);
                }
            }
        }
    }
    if !fitting.is_empty() {
        return fitting;
    }
    // Nothing fits alone: combine each kind's strongest step, cheapest kind first, until it fits.
    let mut combined = *config;
    let mut changes = Vec::new();
    for kind in candidates(model, config) {
        let Some((change, _)) = kind.last() else {
            continue;
        };
        let applied = apply(&combined, kind.last().map(|k| &k.1), config);
        if total(model, &applied) < total(model, &combined) {
            combined = applied;
            changes.push(change.clone());
        }
        if total(model, &combined) <= capacity_bytes {
            break;
        }
    }
    // A combination of one change is that change, already listed.
    if changes.len() > 1 {
        let total_bytes = total(model, &combined);
        closest.push(Fix {
            change: changes.join(" "),
            config: combined,
            total_bytes,
            fits: total_bytes <= capacity_bytes,
        });
    }
    closest
}

/// `step` applied on top of `current`: the fields `step` changed from `original`.
fn apply(
    current: &MemoryConfig,
    step: Option<&MemoryConfig>,
    original: &MemoryConfig,
) -> MemoryConfig {
    let Some(step) = step else {
        return *current;
    };
    let mut c = *current;
    if step.flash_attention != original.flash_attention {
        c.flash_attention = step.flash_attention;
    }
    if step.sequence_parallel != original.sequence_parallel {
        c.sequence_parallel = step.sequence_parallel;
    }
    if step.zero != original.zero {
        c.zero = step.zero;
    }
    if step.recompute != original.recompute {
        c.recompute = step.recompute;
    }
    if step.micro_batch_size != original.micro_batch_size {
        c.micro_batch_size = step.micro_batch_size;
    }
    if step.layout != original.layout {
        let world = c.layout.world_size();
        let tensor = step.layout.tensor.max(c.layout.tensor);
        let pipeline = step.layout.pipeline.max(c.layout.pipeline);
        let others = tensor * pipeline * c.layout.context;
        if others > 0 && world % others == 0 {
            c.layout = Layout {
                tensor,
                pipeline,
                data: world / others,
                ..c.layout
            };
            c.sequence_parallel |= tensor > 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::plan::memory::Precision;
    use crate::model_config;

    fn config(micro_batch_size: u64, data: u64) -> MemoryConfig {
        MemoryConfig {
            micro_batch_size,
            seq_len: 8192,
            layout: Layout {
                data,
                ..Layout::SINGLE
            },
            zero: 0,
            recompute: Recompute::None,
            sequence_parallel: false,
            flash_attention: true,
            precision: Precision::MIXED_BF16,
            optimizer_states: 2,
        }
    }

    #[test]
    fn fixes_that_fit_are_ranked_cheapest_first_and_each_fits() {
        let model = model_config::load("llama-3-8b").unwrap().model;
        let c = MemoryConfig {
            seq_len: 4096,
            ..config(1, 8)
        };
        let capacity = 80.0 * 1024.0 * 1024.0 * 1024.0;
        assert!(total(&model, &c) > capacity);
        let fixes = fixes(&model, &c, capacity);
        assert!(!fixes.is_empty());
        assert!(fixes.iter().all(|f| f.fits && f.total_bytes <= capacity));
        // The training state alone is 18 bytes × 8 B = 150 GB: ZeRO-1 brings it to
        // (6 + 12/8) × 8 B = 60 GB, cheaper than more tensor parallelism, which also fits.
        assert_eq!(fixes[0].change, "--zero 1", "{fixes:?}");
        assert!(
            fixes
                .iter()
                .any(|f| f.change.starts_with("--tensor-parallel")),
            "{fixes:?}"
        );
    }

    #[test]
    fn an_impossible_fit_returns_the_closest_and_a_combination() {
        let model = model_config::load("llama-3.1-405b").unwrap().model;
        let c = config(1, 1);
        let fixes = fixes(&model, &c, 80.0 * 1024.0 * 1024.0 * 1024.0);
        assert!(fixes.iter().all(|f| !f.fits), "{fixes:?}");
        let last = fixes.last().unwrap();
        assert!(last.total_bytes < total(&model, &c));
    }

    #[test]
    fn a_single_helpful_change_is_listed_once() {
        // On one GPU only full recomputation lowers the bytes of a flash-attention run (no ZeRO
        // without data parallelism, no smaller micro-batch than 1, no room to split): it is the
        // one line, not also repeated as a "combination" of itself.
        let model = model_config::load("llama-3-8b").unwrap().model;
        let fixes = fixes(&model, &config(1, 1), 80.0 * 1024.0 * 1024.0 * 1024.0);
        let changes: Vec<&str> = fixes.iter().map(|f| f.change.as_str()).collect();
        let mut unique = changes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), changes.len(), "{changes:?}");
        assert!(changes.contains(&"--recompute full"), "{changes:?}");
    }
}
