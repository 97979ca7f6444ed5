//! `calc` end to end: published MFU figures reproduced from their published inputs,
//! the JSON schema, and every error path with its message.

use crate::support::{calc_error, calc_json, f64_at, repo_path, run, u64_at};

fn fixture_model(name: &str) -> String {
    repo_path(&format!("tests/fixtures/models/{name}"))
        .to_string_lossy()
        .into_owned()
}

/// PaLM (Chowdhery et al. 2022, Table 3 and appendix B): 540B parameters on 6144 TPU v4
/// chips at 238.3K tokens/s is 46.2% MFU.
#[test]
fn palm_540b_mfu_is_46_2_percent() {
    let model = fixture_model("palm-540b.json");
    let report = calc_json(&[
        "--model",
        &model,
        "--seq-len",
        "2048",
        "--gpu",
        "tpu-v4",
        "--gpus",
        "6144",
        "--tokens-per-sec",
        "238300",
    ]);
    // PaLM's own parameter count, 540.35B (Table 1), with its shared embedding.
    let total = u64_at(&report, "/params/total") as f64;
    assert!((total / 1e9 - 540.35).abs() < 0.02, "total {total}");
    let mfu = f64_at(&report, "/mfu/palm");
    assert!(
        (mfu - 0.462).abs() < 0.0005,
        "PaLM 540B MFU {mfu}, published 46.2%"
    );
}

/// MT-NLG 530B on 2240 A100s at 65.43K tokens/s (PaLM, Table 3) is 30.2% MFU.
#[test]
fn mt_nlg_530b_mfu_is_30_2_percent() {
    let model = fixture_model("mt-nlg-530b.json");
    let report = calc_json(&[
        "--model",
        &model,
        "--gpu",
        "a100-sxm",
        "--gpus",
        "2240",
        "--tokens-per-sec",
        "65430",
    ]);
    assert_eq!(
        u64_at(&report, "/seq_len"),
        2048,
        "nanoGPT block_size is the default sequence"
    );
    let mfu = f64_at(&report, "/mfu/palm");
    assert!(
        (mfu - 0.302).abs() < 0.0005,
        "MT-NLG MFU {mfu}, published 30.2%"
    );
}

/// torchtitan's Llama 3.1 8B benchmark on 8 H100s (Dec 2024): 5,762 tokens/s per GPU
/// eager and 6,667 compiled at sequence length 8192 are "33% to 39% MFU" against the
/// SXM peak.
#[test]
fn torchtitan_llama3_8b_on_h100() {
    for (tokens_per_gpu, published) in [(5762.0_f64, 0.33), (6667.0, 0.39)] {
        let rate = (tokens_per_gpu * 8.0).to_string();
        let report = calc_json(&[
            "--model",
            "llama-3-8b",
            "--seq-len",
            "8192",
            "--gpu",
            "h100-sxm",
            "--gpus",
            "8",
            "--tokens-per-sec",
            &rate,
        ]);
        let mfu = f64_at(&report, "/mfu/palm");
        assert!(
            (published..published + 0.01).contains(&mfu),
            "torchtitan Llama 3.1 8B at {tokens_per_gpu} tokens/s/GPU: MFU {mfu}, published {published}"
        );
    }
}

/// nanoGPT's `estimate_mfu` on GPT-2 124M: flops per token 6N + 12·L·H·Q·T with N the
/// parameters less the position embedding, over an A100's 312 TFLOP/s.
#[test]
fn nanogpt_estimate_mfu_on_gpt2() {
    // nanoGPT's train.py: 12 sequences × 40 accumulation steps of 1024 tokens per iteration,
    // split over 8 GPUs (each process runs 5 of the 40), so one GPU's `estimate_mfu` sees an
    // eighth of the iteration's tokens in the same time.
    let (fwdbwd_per_iter, block_size, dt, gpus) = (480.0, 1024.0, 0.35, 8.0);
    // GPT-2 124M has 124,439,808 parameters (transformers); nanoGPT's get_num_params
    // subtracts the 1024 × 768 position embedding.
    let n = 124_439_808.0 - 1024.0 * 768.0;
    let flops_per_token = 6.0 * n + 12.0 * 12.0 * 12.0 * 64.0 * block_size;
    let expected = flops_per_token * block_size * (fwdbwd_per_iter / gpus) / dt / 312e12;

    let rate = (fwdbwd_per_iter * block_size / dt).to_string();
    let report = calc_json(&[
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--gpus",
        "8",
        "--tokens-per-sec",
        &rate,
    ]);
    let mfu = f64_at(&report, "/mfu/palm");
    assert!(
        (mfu / expected - 1.0).abs() < 1e-9,
        "mfu {mfu}, nanoGPT {expected}"
    );
    assert_eq!(
        f64_at(&report, "/flops_per_token/palm/training"),
        flops_per_token
    );
}

#[test]
fn step_time_and_batch_size_give_the_same_throughput() {
    let by_rate = calc_json(&[
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--gpus",
        "8",
        "--tokens-per-sec",
        "81920",
    ]);
    let by_step = calc_json(&[
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--gpus",
        "8",
        "--step-time",
        "2",
        "--tokens-per-step",
        "163840",
    ]);
    let by_batch = calc_json(&[
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--gpus",
        "8",
        "--step-time",
        "2",
        "--batch-size",
        "160",
    ]);
    for report in [&by_step, &by_batch] {
        assert_eq!(
            f64_at(report, "/mfu/detailed"),
            f64_at(&by_rate, "/mfu/detailed")
        );
    }
}

#[test]
fn json_schema_has_the_documented_fields_in_base_units() {
    let report = calc_json(&[
        "--model",
        "llama-3-8b",
        "--seq-len",
        "4096",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "8",
        "--tokens-per-sec",
        "60000",
        "--recompute",
        "full",
    ]);
    for pointer in [
        "/params/total",
        "/params/active",
        "/params/embedding",
        "/flops_per_token/palm/forward",
        "/flops_per_token/palm/training",
        "/flops_per_token/detailed/forward",
        "/flops_per_token/detailed/training",
        "/hardware/peak_flops_per_gpu",
        "/mfu/palm",
        "/mfu/detailed",
        "/hfu/palm",
        "/hfu/detailed",
    ] {
        assert!(report.pointer(pointer).is_some(), "missing {pointer}");
    }
    assert_eq!(report["attention"], "full");
    assert_eq!(report["hardware"]["gpu"], "h100-sxm");
    assert_eq!(report["hardware"]["dtype"], "bf16");
    assert_eq!(report["hardware"]["gpus"], 8);
    // Base units: FLOP/s, not TFLOP/s; ratios, not percentages.
    assert_eq!(f64_at(&report, "/hardware/peak_flops_per_gpu"), 989.4e12);
    let mfu = f64_at(&report, "/mfu/palm");
    assert!(mfu > 0.0 && mfu < 1.0);
    // Training is forward plus a backward of twice the forward.
    let forward = f64_at(&report, "/flops_per_token/detailed/forward");
    assert_eq!(
        f64_at(&report, "/flops_per_token/detailed/training"),
        3.0 * forward
    );
    // The components add up to the forward count.
    let components = report["flops_per_token"]["detailed"]["components"]
        .as_object()
        .unwrap();
    let sum: f64 = components.values().filter_map(|v| v.as_f64()).sum();
    assert!((sum / forward - 1.0).abs() < 1e-12);
    // Full recomputation runs every decoder layer's forward twice: HFU above MFU.
    assert!(f64_at(&report, "/hfu/detailed") > f64_at(&report, "/mfu/detailed"));
}

#[test]
fn causal_attention_halves_the_attention_matrix_terms() {
    let full = calc_json(&["--model", "llama-3-8b", "--seq-len", "8192"]);
    let causal = calc_json(&[
        "--model",
        "llama-3-8b",
        "--seq-len",
        "8192",
        "--attention",
        "causal",
    ]);
    assert_eq!(causal["attention"], "causal");
    let scores = "/flops_per_token/detailed/components/attention_scores";
    assert_eq!(f64_at(&causal, scores) * 2.0, f64_at(&full, scores));
    // 12·L·H·Q·T halves in the PaLM formula too.
    let attention_term = 12.0 * 32.0 * 32.0 * 128.0 * 8192.0;
    let palm = "/flops_per_token/palm/training";
    assert_eq!(
        f64_at(&full, palm) - f64_at(&causal, palm),
        attention_term / 2.0
    );
}

#[test]
fn fp8_reports_mfu_against_both_peaks() {
    let report = calc_json(&[
        "--model",
        "llama-3-8b",
        "--gpu",
        "h100-sxm",
        "--dtype",
        "fp8",
        "--gpus",
        "8",
        "--tokens-per-sec",
        "80000",
    ]);
    let fp8 = f64_at(&report, "/mfu/palm");
    let bf16 = f64_at(&report, "/mfu/bf16_peak/palm");
    assert!(
        (bf16 / fp8 - 2.0).abs() < 0.01,
        "H100 fp8 peak is twice bf16: {fp8} vs {bf16}"
    );
    assert_eq!(report["hardware"]["dtype"], "fp8");
}

#[test]
fn peak_override_replaces_the_table() {
    let report = calc_json(&[
        "--model",
        "gpt2",
        "--peak-tflops",
        "100",
        "--tokens-per-sec",
        "1000",
    ]);
    assert_eq!(f64_at(&report, "/hardware/peak_flops_per_gpu"), 100e12);
    assert_eq!(report["hardware"]["peak_source"], "override");
}

#[test]
fn deepseek_v3_reports_mtp_and_deepseek_active_convention() {
    let report = calc_json(&["--model", "deepseek-v3"]);
    let active_without_embedding = u64_at(&report, "/params/active_without_input_embedding") as f64;
    // DeepSeek-V3's technical report: 37B activated parameters per token.
    assert!((36.5e9..37.5e9).contains(&active_without_embedding));
    assert!(u64_at(&report, "/params/mtp") > 0);
    assert_eq!(
        u64_at(&report, "/params/router_correction_biases"),
        58 * 256
    );
    let without_mtp = f64_at(&report, "/flops_per_token/detailed/forward");
    let with_mtp = calc_json(&["--model", "deepseek-v3", "--mtp"]);
    assert!(f64_at(&with_mtp, "/flops_per_token/detailed/forward") > without_mtp);
    assert!(report["flops_per_token"]["detailed"]["components"]
        .get("mtp")
        .is_none());
}

#[test]
fn table_output_is_for_people() {
    let (ok, stdout, stderr) = run(&[
        "calc",
        "--model",
        "llama-3-8b",
        "--seq-len",
        "8192",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "8",
        "--tokens-per-sec",
        "46096",
    ]);
    assert!(ok, "{stderr}");
    for needle in [
        "8.03 B",
        "57.9 GFLOP",
        "full",
        "MFU",
        "attention_scores",
        "%",
    ] {
        assert!(stdout.contains(needle), "table lacks {needle:?}:\n{stdout}");
    }
}

#[test]
fn models_and_gpus_list_everything() {
    let (ok, stdout, _) = run(&["models"]);
    assert!(ok);
    for preset in [
        "gpt2",
        "llama-2-7b",
        "llama-3.1-405b",
        "mixtral-8x7b",
        "qwen3-30b-a3b",
        "deepseek-v3",
        "phi-3.5-mini",
        "gemma-2-9b",
        "gpt-oss-20b",
    ] {
        assert!(stdout.contains(preset), "models lacks {preset}");
    }
    let (ok, stdout, _) = run(&["gpus"]);
    assert!(ok);
    for gpu in [
        "h100-sxm",
        "l40s",
        "mi300x",
        "tpu-v5p",
        "gaudi3",
        "b300",
        "gb300",
        "rtx-4090",
        "tpu-v7",
        "trainium2",
        "mi355x",
    ] {
        assert!(stdout.contains(gpu), "gpus lacks {gpu}");
    }
    assert!(
        stdout.to_lowercase().contains("datasheet"),
        "gpus must name its sources"
    );
    assert!(stdout.contains("derived"), "gpus must mark derived peaks");
    assert!(stdout.contains("mem GiB"), "gpus must show memory");
}

fn write_config(dir: &tempfile::TempDir, name: &str, json: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, json).unwrap();
    path.to_string_lossy().into_owned()
}

/// Each refused input names the field, quotes the value and says what would fix it.
#[test]
fn error_messages_name_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{"model_type": "bert"}"#,
            &["model_type", "\"bert\"", "supported", "llama"],
        ),
        (r#"{"hidden_size": 64}"#, &["model_type"]),
        (
            r#"{"model_type": "llama", "hidden_size": 100, "num_attention_heads": 3}"#,
            &["num_attention_heads", "3", "hidden_size = 100", "head_dim"],
        ),
        (
            r#"{"model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 6}"#,
            &["num_experts_per_tok", "6", "num_local_experts = 4"],
        ),
        (
            r#"{"model_type": "llama", "num_hidden_layers": 0}"#,
            &["num_hidden_layers", "0", "at least 1"],
        ),
        (
            r#"{"model_type": "deepseek_v2"}"#,
            &["num_experts_per_tok", "DeepSeek-V2"],
        ),
        (
            r#"{"model_type": "llama", "num_attention_heads": 32, "num_key_value_heads": 5}"#,
            &["num_key_value_heads", "5", "divide"],
        ),
        (
            r#"{"model_type": "llama", "hidden_size": "4096"}"#,
            &["hidden_size", "\"4096\"", "integer"],
        ),
        (
            r#"{"model_type": "qwen3_moe", "mlp_only_layers": [99]}"#,
            &["mlp_only_layers", "99"],
        ),
        (r#"{"model_type": "llama", "#, &["not valid JSON"]),
        (
            r#"{"model_type": "gemma-2"}"#,
            &["gemma-2", "nearest supported type is \"gemma2\"", "gpt_oss"],
        ),
        (
            r#"{"model_type": "kimi_k3"}"#,
            &["nearest supported type is \"kimi_k2\""],
        ),
        (
            r#"{"model_type": "gemma2", "num_hidden_layers": 3, "layer_types": ["sliding_attention", "full_attention"]}"#,
            &[
                "layer_types",
                "a list of 2",
                "one entry per layer",
                "num_hidden_layers = 3",
            ],
        ),
        (
            r#"{"model_type": "gpt_oss", "num_hidden_layers": 2, "layer_types": ["sliding_attention", "chunked_attention"]}"#,
            &[
                "layer_types",
                "chunked_attention",
                "layer 1",
                "full_attention, sliding_attention",
            ],
        ),
        (
            r#"{"model_type": "smollm3", "num_hidden_layers": 2, "no_rope_layers": [1]}"#,
            &["no_rope_layers", "one entry per layer"],
        ),
        (
            r#"{"model_type": "hunyuan_v1_moe", "num_hidden_layers": 2, "num_experts": 4, "moe_topk": [2]}"#,
            &["moe_topk", "one entry per layer"],
        ),
        (r#"[1, 2]"#, &["JSON object"]),
    ];
    for (i, (json, needles)) in cases.iter().enumerate() {
        let path = write_config(&dir, &format!("case{i}.json"), json);
        let stderr = calc_error(&["--model", &path]);
        for needle in *needles {
            assert!(
                stderr.contains(needle),
                "config {json}: message lacks {needle:?}: {stderr}"
            );
        }
    }
}

#[test]
fn hardware_and_throughput_errors() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--model", "no-such-model"],
            &["no-such-model", "presets", "llama-3-8b"],
        ),
        (
            &["--model", "gpt2", "--gpu", "h101"],
            &["h101", "known ids"],
        ),
        (
            &["--model", "gpt2", "--gpu", "a100"],
            &["a100-sxm", "a100-pcie"],
        ),
        (
            &["--model", "gpt2", "--gpu", "v100-sxm", "--dtype", "bf16"],
            &["v100-sxm", "bf16", "fp16"],
        ),
        (
            &["--model", "gpt2", "--gpu", "a100-sxm", "--dtype", "fp8"],
            &["a100-sxm", "fp8"],
        ),
        (
            &["--model", "gpt2", "--gpu", "h100-sxm", "--dtype", "int3"],
            &["int3", "bf16"],
        ),
        (
            &["--model", "gpt2", "--tokens-per-sec", "1000"],
            &["--gpu", "--peak-tflops"],
        ),
        (
            &["--model", "gpt2", "--gpu", "h100-sxm", "--step-time", "1"],
            &["--tokens-per-step", "--batch-size"],
        ),
        (
            &[
                "--model",
                "gpt2",
                "--gpu",
                "h100-sxm",
                "--tokens-per-sec=-5",
            ],
            &["--tokens-per-sec", "positive"],
        ),
        (
            &["--model", "gpt2", "--gpu", "h100-sxm", "--gpus", "0"],
            &["gpus", "at least one"],
        ),
        (
            &["--model", "gpt2", "--peak-tflops", "0"],
            &["peak", "positive"],
        ),
        (&["--model", "gpt2", "--seq-len", "0"], &["--seq-len"]),
        (&["--gpu", "h100-sxm"], &["--model"]),
    ];
    for (args, needles) in cases {
        let stderr = calc_error(args);
        for needle in *needles {
            assert!(
                stderr.contains(needle),
                "calc {args:?}: message lacks {needle:?}: {stderr}"
            );
        }
    }
}

/// nvidia-smi names resolve exactly; the L40S never becomes the much slower L4.
#[test]
fn nvidia_smi_names_resolve_exactly() {
    let l40s = calc_json(&["--model", "gpt2", "--gpu", "NVIDIA L40S"]);
    assert_eq!(l40s["hardware"]["gpu"], "l40s");
    let h100 = calc_json(&["--model", "gpt2", "--gpu", "NVIDIA H100 80GB HBM3"]);
    assert_eq!(h100["hardware"]["gpu"], "h100-sxm");
}

/// Active parameters per token as the model cards publish them: Mixtral 8x7B 12.9B
/// (embeddings included), Qwen3-30B-A3B 3.3B.
#[test]
fn moe_active_parameters_match_the_model_cards() {
    for (model, published_billions) in [("mixtral-8x7b", 12.9), ("qwen3-30b-a3b", 3.3)] {
        let report = calc_json(&["--model", model]);
        let active = u64_at(&report, "/params/active") as f64 / 1e9;
        assert!(
            (active - published_billions).abs() < 0.06,
            "{model}: active {active} B, published {published_billions} B"
        );
        assert!(u64_at(&report, "/params/active") < u64_at(&report, "/params/total"));
    }
}

/// With --mtp both formulas count DeepSeek-V3's MTP module, and stay within 1% of each other.
#[test]
fn mtp_is_counted_by_both_formulas() {
    let without = calc_json(&["--model", "deepseek-v3"]);
    let with = calc_json(&["--model", "deepseek-v3", "--mtp"]);
    for formula in ["palm", "detailed"] {
        let pointer = format!("/flops_per_token/{formula}/forward");
        assert!(
            f64_at(&with, &pointer) > f64_at(&without, &pointer),
            "{formula}"
        );
    }
    let (palm, detailed) = (
        f64_at(&with, "/flops_per_token/palm/forward"),
        f64_at(&with, "/flops_per_token/detailed/forward"),
    );
    assert!(
        (palm / detailed - 1.0).abs() < 0.01,
        "palm {palm} vs detailed {detailed}"
    );
}

/// An MFU above 100 % (here the throughput of 8 GPUs given with `--gpus 1`) is printed, warned
/// about naming the flags that are probably wrong, and exits 1 unless `--allow-implausible`.
#[test]
fn calc_warns_and_fails_when_mfu_exceeds_one() {
    let job = [
        "calc",
        "--model",
        "llama-3-8b",
        "--seq-len",
        "8192",
        "--gpu",
        "h100-sxm",
        "--tokens-per-sec",
        "46096",
    ];
    let with = |extra: &[&'static str]| {
        let mut args = job.to_vec();
        args.extend_from_slice(extra);
        let output = std::process::Command::new(crate::support::binary())
            .args(&args)
            .output()
            .expect("run calc");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (code, stdout, stderr) = with(&["--gpus", "1"]);
    assert_eq!(code, Some(1), "stdout {stdout}, stderr {stderr}");
    assert!(
        stdout.contains("MFU"),
        "the report is still printed: {stdout}"
    );
    for flag in [
        "--gpus 1",
        "--tokens-per-sec",
        "--dtype bf16",
        "--gpu",
        "--allow-implausible",
    ] {
        assert!(stderr.contains(flag), "warning lacks {flag:?}: {stderr}");
    }

    let (code, stdout, stderr) = with(&["--gpus", "1", "--format", "json", "--allow-implausible"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("above 100 %"), "still warned: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(f64_at(&report, "/mfu/palm") > 1.0);

    let (code, _, stderr) = with(&["--gpus", "8"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "no warning at 34 %: {stderr}");
}
