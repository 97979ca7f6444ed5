//! The parallel layout of a training job, and whether it divides the model.
//!
//! Tensor parallelism splits attention heads (and their key/value groups) and MLP columns,
//! pipeline parallelism splits the layers into stages, expert parallelism the routed experts,
//! context parallelism the sequence; data parallelism replicates what is left. The world size
//! is the product of tensor, pipeline, context and data parallelism (Megatron-LM's layout;
//! expert parallelism runs inside the data- and context-parallel ranks).

use crate::accounting::model::{Attention, FeedForward, Model};

/// The parallel degrees of a job, each at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub tensor: u64,
    pub pipeline: u64,
    pub data: u64,
    pub context: u64,
    pub expert: u64,
}

impl Layout {
    pub const SINGLE: Layout = Layout {
        tensor: 1,
        pipeline: 1,
        data: 1,
        context: 1,
        expert: 1,
    };

    /// GPUs the layout occupies: tensor × pipeline × context × data.
    pub fn world_size(&self) -> u64 {
        self.tensor
            .saturating_mul(self.pipeline)
            .saturating_mul(self.context)
            .saturating_mul(self.data)
    }

    /// Ranks that hold the same dense (non-expert) shard: the optimizer shards over these.
    pub fn dense_data_parallel(&self) -> u64 {
        self.data.saturating_mul(self.context)
    }

    /// Ranks that hold the same routed-expert shard: data × context over expert parallelism.
    pub fn expert_data_parallel(&self) -> u64 {
        (self.dense_data_parallel() / self.expert.max(1)).max(1)
    }

    /// The layout as flags, for messages, with the GPUs it fills.
    pub fn flags(&self) -> String {
        format!(
            "--tensor-parallel {} --pipeline-parallel {} --context-parallel {} --data-parallel {} --expert-parallel {} ({} GPUs)",
            self.tensor,
            self.pipeline,
            self.context,
            self.data,
            self.expert,
            self.world_size()
        )
    }
}

/// A layout that does not divide the model, naming the dimension and layouts that work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {value}: {reason}; nearest layouts that work: {}", nearest_text(.nearest))]
pub struct LayoutError {
    /// The flag of the dimension that does not divide.
    pub flag: &'static str,
    pub value: u64,
    pub reason: String,
    /// The closest working layouts, nearest first.
    pub nearest: Vec<Layout>,
}

fn nearest_text(nearest: &[Layout]) -> String {
    if nearest.is_empty() {
        return "none (set every degree to 1)".to_string();
    }
    nearest
        .iter()
        .map(|l| format!("[{}]", l.flags()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that `layout` divides `model` at `seq_len` and, when `world_size` is given, that the
/// layout fills exactly that many GPUs.
///
/// # Errors
///
/// [`LayoutError`] for the first dimension that does not divide, in the order: zero degrees,
/// heads by tensor parallelism, key/value groups by tensor parallelism, layers by pipeline
/// parallelism, experts by expert parallelism, data × context ranks by expert parallelism,
/// sequence by context parallelism, world size by the product.
pub fn validate(
    model: &Model,
    layout: &Layout,
    seq_len: u64,
    world_size: Option<u64>,
) -> Result<(), LayoutError> {
    let degrees = [
        ("--tensor-parallel", layout.tensor),
        ("--pipeline-parallel", layout.pipeline),
        ("--data-parallel", layout.data),
        ("--context-parallel", layout.context),
        ("--expert-parallel", layout.expert),
    ];
    for (flag, value) in degrees {
        if value == 0 {
            return Err(LayoutError {
                flag,
                value,
                reason: "a parallel degree is at least 1".to_string(),
                nearest: vec![with(layout, flag, 1)],
            });
        }
    }
    // The attention of the first attention layer; a model without one has no heads to split.
    let attention = model.first_attention().map(|a| a.attention);
    let heads = attention.map_or(0, |a| a.num_heads());
    if heads % layout.tensor != 0 {
        return Err(refusal(
            layout,
            "--tensor-parallel",
            format!("the model's {heads} attention heads do not split evenly over {} tensor-parallel ranks", layout.tensor),
            &divisors(heads),
        ));
    }
    if let Some(Attention::Standard(a)) = attention {
        if a.num_kv_heads % layout.tensor != 0 {
            return Err(refusal(
                layout,
                "--tensor-parallel",
                format!(
                    "the model's {} key/value heads do not split evenly over {} tensor-parallel ranks (Megatron-LM requires it)",
                    a.num_kv_heads, layout.tensor
                ),
                &divisors(a.num_kv_heads),
            ));
        }
    }
    let layers = model.layers.len() as u64;
    if layers % layout.pipeline != 0 {
        return Err(refusal(
            layout,
            "--pipeline-parallel",
            format!(
                "the model's {layers} layers do not split evenly into {} pipeline stages",
                layout.pipeline
            ),
            &divisors(layers),
        ));
    }
    match num_experts(model) {
        None if layout.expert > 1 => {
            return Err(LayoutError {
                flag: "--expert-parallel",
                value: layout.expert,
                reason: "the model has no routed experts to split".to_string(),
                nearest: vec![with(layout, "--expert-parallel", 1)],
            })
        }
        Some(experts) if experts % layout.expert != 0 => {
            return Err(refusal(
                layout,
                "--expert-parallel",
                format!("the model's {experts} routed experts do not split evenly over {} expert-parallel ranks", layout.expert),
                &divisors(experts),
            ))
        }
        _ => {}
    }
    if layout.dense_data_parallel() % layout.expert != 0 {
        let ranks = layout.dense_data_parallel();
        let fits: Vec<u64> = divisors(ranks)
            .into_iter()
            .filter(|d| num_experts(model).is_some_and(|e| e % d == 0))
            .collect();
        return Err(refusal(
            layout,
            "--expert-parallel",
            format!(
                "expert parallelism runs inside the {ranks} data × context-parallel ranks, which {} does not divide",
                layout.expert
            ),
            &fits,
        ));
    }
    if layout.context > 1 && seq_len % (2 * layout.context) != 0 {
        let fits: Vec<u64> = (1..=seq_len.min(1 << 12))
            .filter(|c| *c == 1 || seq_len % (2 * c) == 0)
            .collect();
        return Err(refusal(
            layout,
            "--context-parallel",
            format!(
                "a sequence of {seq_len} tokens does not split into 2 × {} equal chunks (the load-balanced causal split)",
                layout.context
            ),
            &fits,
        ));
    }
    if let Some(world) = world_size {
        if layout.world_size() != world {
            let per_replica = layout.world_size() / layout.data;
            let mut nearest = Vec::new();
            if world % per_replica == 0 {
                nearest.push(Layout {
                    data: world / per_replica,
                    ..*layout
                });
            } else {
                let below = world / per_replica;
                for data in [below, below + 1] {
                    if data >= 1 {
                        nearest.push(Layout { data, ..*layout });
                    }
                }
            }
            return Err(LayoutError {
                flag: "--gpus",
                value: world,
                reason: format!(
                    "the layout fills {} GPUs (tensor {} × pipeline {} × context {} × data {}), not {world}",
                    layout.world_size(),
                    layout.tensor,
                    layout.pipeline,
                    layout.context,
                    layout.data
                ),
                nearest,
            });
        }
    }
    Ok(())
}

/// The routed experts of the model's MoE layers, if it has any.
pub fn num_experts(model: &Model) -> Option<u64> {
    model.layers.iter().find_map(|layer| match layer.ffn {
        FeedForward::MixtureOfExperts(moe) => Some(moe.num_experts),
        FeedForward::Dense(_) | FeedForward::None => None,
    })
}

fn divisors(n: u64) -> Vec<u64> {
    (1..=n.min(1 << 16)).filter(|d| n % d == 0).collect()
}

fn with(layout: &Layout, flag: &str, value: u64) -> Layout {
    let mut l = *layout;
    match flag {
        "--tensor-parallel" => l.tensor = value,
        "--pipeline-parallel" => l.pipeline = value,
        "--data-parallel" => l.data = value,
        "--context-parallel" => l.context = value,
        _ => l.expert = value,
    }
    l
}

/// The error for a dimension whose value is not among `working` values: the nearest one below
/// and above, each with the data-parallel degree that keeps the world size when it can.
fn refusal(layout: &Layout, flag: &'static str, reason: String, working: &[u64]) -> LayoutError {
    let value = match flag {
        "--tensor-parallel" => layout.tensor,
        "--pipeline-parallel" => layout.pipeline,
        "--context-parallel" => layout.context,
        _ => layout.expert,
    };
    let world = layout.world_size();
    // A degree that keeps the GPU count (through the data-parallel degree) is the better
    // suggestion; expert parallelism does not change the GPU count.
    let keeps_world = |v: u64| {
        if flag == "--expert-parallel" {
            return true;
        }
        let others = with(layout, flag, v).world_size() / layout.data.max(1);
        others > 0 && world % others == 0
    };
    let keeping: Vec<u64> = working
        .iter()
        .copied()
        .filter(|v| keeps_world(*v))
        .collect();
    let around = |pool: &[u64]| {
        let below = pool.iter().copied().filter(|v| *v < value).max();
        let above = pool.iter().copied().filter(|v| *v > value).min();
        let mut both: Vec<u64> = below.into_iter().chain(above).collect();
        both.sort_by_key(|v| v.abs_diff(value));
        both
    };
    // First the nearest that keep the GPU count, then the nearest on another GPU count.
    let mut candidates = around(&keeping);
    for v in around(working) {
        if !candidates.contains(&v) {
            candidates.push(v);
        }
    }
    let nearest = candidates
        .into_iter()
        .map(|v| {
            let mut l = with(layout, flag, v);
            if flag != "--expert-parallel" {
                let others = l.world_size() / l.data.max(1);
                if others > 0 && world % others == 0 {
                    l.data = world / others;
                }
            }
            l
        })
        .collect();
    LayoutError {
        flag,
        value,
        reason,
        nearest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_config;

    fn llama_8b() -> Model {
        model_config::load("llama-3-8b").unwrap().model
    }

    fn layout(tensor: u64, pipeline: u64, data: u64) -> Layout {
        Layout {
            tensor,
            pipeline,
            data,
            ..Layout::SINGLE
        }
    }

    #[test]
    fn heads_by_tensor_parallel_suggests_the_divisors_around_it() {
        // 32 heads, 8 KV heads: 3 does not divide; 2 and 4 do, each keeping 24 GPUs.
        let err = validate(&llama_8b(), &layout(3, 1, 8), 8192, Some(24)).unwrap_err();
        assert_eq!(err.flag, "--tensor-parallel");
        assert_eq!(err.nearest, vec![layout(2, 1, 12), layout(4, 1, 6)]);
        assert!(err.to_string().contains("32 attention heads"), "{err}");
        // 16 divides the 32 query heads but not the 8 KV heads.
        let err = validate(&llama_8b(), &layout(16, 1, 1), 8192, None).unwrap_err();
        assert!(err.to_string().contains("8 key/value heads"), "{err}");
        assert_eq!(err.nearest, vec![layout(8, 1, 2)]);
    }

    #[test]
    fn layers_by_pipeline_experts_by_expert_parallel_and_world_size() {
        let err = validate(&llama_8b(), &layout(1, 5, 1), 8192, None).unwrap_err();
        assert_eq!((err.flag, err.value), ("--pipeline-parallel", 5));
        // The 5 GPUs the layout fills fit pipeline parallelism 1 (data 5); 4 and 8 stages
        // divide the layers on other GPU counts.
        assert_eq!(
            err.nearest,
            vec![layout(1, 1, 5), layout(1, 4, 1), layout(1, 8, 1)]
        );
        let dense_ep = Layout {
            expert: 2,
            data: 2,
            ..Layout::SINGLE
        };
        let err = validate(&llama_8b(), &dense_ep, 8192, None).unwrap_err();
        assert_eq!(err.flag, "--expert-parallel");
        let mixtral = model_config::load("mixtral-8x7b").unwrap().model;
        let ep3 = Layout {
            expert: 3,
            data: 6,
            ..Layout::SINGLE
        };
        let err = validate(&mixtral, &ep3, 4096, None).unwrap_err();
        assert!(err.to_string().contains("8 routed experts"), "{err}");
        let err = validate(&llama_8b(), &layout(2, 2, 2), 8192, Some(12)).unwrap_err();
        assert_eq!(err.flag, "--gpus");
        assert_eq!(err.nearest, vec![layout(2, 2, 3)]);
        assert!(validate(&llama_8b(), &layout(2, 2, 2), 8192, Some(8)).is_ok());
    }
}
