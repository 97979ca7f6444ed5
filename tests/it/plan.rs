//! `plan` as a user runs it: the JSON names of the issue, every preset answering the four
//! questions, refusals of layouts that do not divide, ranked fixes, the SVG chart, and time and
//! cost against published training runs.

use serde_json::Value;

use crate::support::{f64_at, repo_path, run, u64_at};

fn plan_json(args: &[&str]) -> Value {
    let mut all = vec!["plan", "--format", "json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = run(&all);
    assert!(ok, "plan {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("invalid JSON ({e}): {stdout}"))
}

fn plan_error(args: &[&str]) -> String {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = run(&all);
    assert!(!ok, "plan {args:?} should have failed, printed: {stdout}");
    stderr
}

const FOUR_QUESTIONS: &[&str] = &[
    "--gpu",
    "h100-sxm",
    "--gpus",
    "8",
    "--target-mfu",
    "0.5",
    "--tokens",
    "1e12",
    "--mfu",
    "0.4",
    "--price-per-gpu-hour",
    "2",
    "--sweep-seq-len",
    "2048,8192,32768",
];

#[test]
fn json_names_are_the_issues_and_every_number_is_in_base_units() {
    let mut args = vec!["--model", "llama-3-8b", "--seq-len", "4096", "--zero", "3"];
    args.extend_from_slice(FOUR_QUESTIONS);
    let plan = plan_json(&args);
    for key in [
        "weights",
        "gradients",
        "optimizer_states",
        "master_weights",
        "activations",
        "temporary",
        "total",
        "capacity",
    ] {
        u64_at(&plan, &format!("/memory/{key}"));
    }
    assert!(plan["memory"]["fits"].is_boolean());
    // The components add up to the total, to the byte (each is rounded on its own).
    let parts: u64 = [
        "weights",
        "gradients",
        "optimizer_states",
        "master_weights",
        "activations",
        "temporary",
    ]
    .iter()
    .map(|k| u64_at(&plan, &format!("/memory/{k}")))
    .sum();
    assert!(parts.abs_diff(u64_at(&plan, "/memory/total")) <= 3);
    // An H100 SXM has 80 GiB.
    assert_eq!(u64_at(&plan, "/memory/capacity"), 80 << 30);
    for key in ["gpu_hours", "days", "cost"] {
        assert!(
            f64_at(&plan, &format!("/time_and_cost/{key}")) > 0.0,
            "{key}"
        );
    }
    let cost = f64_at(&plan, "/time_and_cost/cost");
    assert_eq!(cost, 2.0 * f64_at(&plan, "/time_and_cost/gpu_hours"));
    let sweep = plan["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 3);
    for (entry, seq_len) in sweep.iter().zip([2048, 8192, 32768]) {
        assert_eq!(u64_at(entry, "/seq_len"), seq_len);
        assert!(f64_at(entry, "/flops_per_token") > 0.0);
        let share = f64_at(entry, "/attention_share");
        assert!((0.0..1.0).contains(&share));
    }
    assert!(plan["roofline"]["label"]
        .as_str()
        .unwrap()
        .contains("not a measurement"));
    u64_at(&plan, "/roofline/micro_batch_size");
    assert!(f64_at(&plan, "/roofline/mfu_bound") >= 0.5);
}

#[test]
fn every_bundled_preset_answers_the_four_questions() {
    let (ok, presets, _) = run(&["models"]);
    assert!(ok);
    let names: Vec<&str> = presets
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| repo_path(&format!("configs/models/{n}.json")).exists())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let mut args = vec!["--model", name, "--seq-len", "4096"];
        args.extend_from_slice(FOUR_QUESTIONS);
        let plan = plan_json(&args);
        for section in ["memory", "roofline", "time_and_cost", "sweep"] {
            assert!(!plan[section].is_null(), "{name}: no {section}");
        }
        assert!(plan["memory"]["fits"].is_boolean(), "{name}");
        // The table says the same, with the roofline labelled.
        let mut table = vec!["plan", "--model", name, "--seq-len", "4096"];
        table.extend_from_slice(FOUR_QUESTIONS);
        let (ok, stdout, stderr) = run(&table);
        assert!(ok, "{name}: {stderr}");
        assert!(
            stdout.contains("roofline model, not a measurement"),
            "{name}"
        );
    }
}

#[test]
fn a_layout_that_does_not_divide_the_model_is_refused_with_the_nearest_that_work() {
    let check = |args: &[&str], expected: &[&str]| {
        let mut all = vec!["--model", "llama-3-8b"];
        all.extend_from_slice(args);
        let error = plan_error(&all);
        for part in expected {
            assert!(error.contains(part), "{args:?}: {part:?} not in {error}");
        }
    };
    // 32 heads and 8 KV heads over 3 ranks; 2 and 4 keep the 24 GPUs.
    check(
        &["--gpus", "24", "--tensor-parallel", "3"],
        &[
            "--tensor-parallel 3",
            "32 attention heads",
            "--tensor-parallel 2",
            "--data-parallel 12",
            "--tensor-parallel 4 ",
            "--data-parallel 6",
        ],
    );
    check(
        &["--pipeline-parallel", "5"],
        &[
            "--pipeline-parallel 5",
            "32 layers",
            "--pipeline-parallel 4",
            "--pipeline-parallel 8",
        ],
    );
    check(
        &["--expert-parallel", "2", "--data-parallel", "2"],
        &["--expert-parallel 2", "no routed experts"],
    );
    check(
        &[
            "--gpus",
            "12",
            "--tensor-parallel",
            "2",
            "--pipeline-parallel",
            "2",
            "--data-parallel",
            "2",
        ],
        &["--gpus 12", "fills 8 GPUs", "--data-parallel 3"],
    );
    let error = plan_error(&[
        "--model",
        "mixtral-8x7b",
        "--expert-parallel",
        "3",
        "--data-parallel",
        "6",
    ]);
    assert!(
        error.contains("8 routed experts")
            && error.contains("--expert-parallel 2")
            && error.contains("--expert-parallel 4"),
        "{error}"
    );
}

#[test]
fn a_configuration_that_does_not_fit_says_by_how_much_and_ranks_the_fixes() {
    let plan = plan_json(&[
        "--model",
        "llama-3-8b",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "8",
        "--seq-len",
        "8192",
        "--micro-batch-size",
        "2",
    ]);
    assert_eq!(plan["memory"]["fits"], false);
    let over = u64_at(&plan, "/memory/over_by");
    assert_eq!(over, u64_at(&plan, "/memory/total") - (80 << 30));
    let fixes = plan["memory"]["fixes"].as_array().unwrap();
    assert!(!fixes.is_empty());
    for fix in fixes {
        assert_eq!(fix["fits"], true, "{fix}");
        assert!(u64_at(fix, "/total") <= 80 << 30);
        // Each fix, applied, fits.
        let change: Vec<&str> = fix["change"].as_str().unwrap().split_whitespace().collect();
        let mut args = vec![
            "--model",
            "llama-3-8b",
            "--gpu",
            "h100-sxm",
            "--gpus",
            "8",
            "--seq-len",
            "8192",
            "--micro-batch-size",
            "2",
        ];
        // A fix's flags are added to the command; a smaller micro-batch replaces the old one.
        if let Some(i) = change.iter().position(|a| *a == "--micro-batch-size") {
            args.truncate(8);
            args.extend_from_slice(&change[i..i + 2]);
        } else {
            args.extend_from_slice(&change);
        }
        let fixed = plan_json(&args);
        assert_eq!(fixed["memory"]["fits"], true, "{args:?}");
    }
    let (_, table, _) = run(&[
        "plan",
        "--model",
        "llama-3-8b",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "8",
        "--seq-len",
        "8192",
        "--micro-batch-size",
        "2",
    ]);
    assert!(
        table.contains("does not fit in 80.00 GiB: over by"),
        "{table}"
    );
    assert!(table.contains("changes, cheapest first"), "{table}");
}

#[test]
fn plot_writes_an_svg_chart_of_the_sweep() {
    let dir = std::env::temp_dir().join(format!("mfu-plan-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sweep.svg");
    let path_text = path.to_str().unwrap();
    let (ok, _, stderr) = run(&[
        "plan",
        "--model",
        "mistral-7b",
        "--sweep-seq-len",
        "2048,8192,32768,131072",
        "--plot",
        path_text,
    ]);
    assert!(ok, "{stderr}");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 3);
    assert!(svg.contains(">128K<"));
    let _ = std::fs::remove_dir_all(&dir);
    let error = plan_error(&[
        "--model",
        "mistral-7b",
        "--sweep-seq-len",
        "2048",
        "--plot",
        "/nonexistent-dir/x.svg",
    ]);
    assert!(error.contains("--plot /nonexistent-dir/x.svg"), "{error}");
}

#[test]
fn bad_numbers_name_their_flag() {
    let check = |args: &[&str], expected: &str| {
        let mut all = vec!["--model", "llama-3-8b"];
        all.extend_from_slice(args);
        let error = plan_error(&all);
        assert!(
            error.contains(expected),
            "{args:?}: {expected:?} not in {error}"
        );
    };
    check(
        &["--gpu", "h100-sxm", "--target-mfu", "1.5"],
        "--target-mfu 1.5",
    );
    check(
        &["--gpu", "h100-sxm", "--tokens", "1e12", "--mfu", "0"],
        "--mfu 0",
    );
    check(&["--gpu", "h100-sxm", "--tokens", "1e12"], "add --mfu");
    check(
        &["--tokens", "1e12", "--mfu", "0.4"],
        "time and cost need the GPUs",
    );
    check(
        &[
            "--gpu",
            "h100-sxm",
            "--tokens",
            "1e12",
            "--mfu",
            "0.4",
            "--goodput",
            "1.2",
        ],
        "--goodput 1.2",
    );
    check(&["--micro-batch-size", "0"], "--micro-batch-size 0");
    check(&["--param-dtype", "int3"], "--param-dtype \"int3\"");
    check(&["--target-mfu", "0.5"], "--target-mfu needs the chip");
    check(&["--sweep-seq-len", "0"], "--sweep-seq-len 0");
}

/// Llama 3.1 405B: 30.84 M H100-80GB GPU-hours of pre-training (the model card,
/// https://github.com/meta-llama/llama-models/blob/1b5892739868e5333fb7f022ba91218f0ae5f9c2/models/llama3_1/MODEL_CARD.md),
/// on 15.6 T tokens at 8,192 tokens per sequence, at an MFU of 38 to 43 % of the BF16 peak
/// (41 % on the 16,384 GPUs of the main run) with over 90 % effective training time ("The
/// Llama 3 Herd of Models", arXiv:2407.21783, §3.3, Table 4 and §3.3.4).
#[test]
fn llama_3_405b_gpu_hours_reproduce_from_tokens_parameters_and_mfu() {
    let gpu_hours = |mfu: &str| {
        let plan = plan_json(&[
            "--model",
            "llama-3.1-405b",
            "--seq-len",
            "8192",
            "--gpu",
            "h100-sxm",
            "--gpus",
            "16384",
            "--tensor-parallel",
            "8",
            "--tokens",
            "15.6e12",
            "--mfu",
            mfu,
            "--goodput",
            "0.9",
        ]);
        f64_at(&plan, "/time_and_cost/gpu_hours")
    };
    let published = 30.84e6;
    let main_run = gpu_hours("0.41");
    assert!((main_run / published - 1.0).abs() < 0.02, "{main_run}");
    // The published range of MFU brackets the published GPU-hours.
    assert!(gpu_hours("0.43") < published && published < gpu_hours("0.38"));
}

/// PaLM 540B: 780 B tokens, 238.3 k tokens/s on 6,144 TPU v4 chips, 46.2 % MFU with
/// self-attention counted, and 2,527.2 ZFLOPs of training compute (6N·D) (Chowdhery et al.
/// 2022, arXiv:2204.02311, §4, Appendix B and its training-compute table).
#[test]
fn palm_compute_and_mfu_reproduce_from_tokens_parameters_and_throughput() {
    let config = repo_path("tests/fixtures/plan/palm-540b.json");
    let plan = plan_json(&[
        "--model",
        config.to_str().unwrap(),
        "--seq-len",
        "2048",
        "--gpu",
        "tpu-v4",
        "--gpus",
        "6144",
        "--tokens",
        "780e9",
        "--tokens-per-sec",
        "238.3e3",
    ]);
    let mfu = f64_at(&plan, "/time_and_cost/mfu");
    assert!((mfu - 0.462).abs() < 0.0005, "{mfu}");
    // The total counts self-attention too (12·L·H·Q·T per token, 1.1 % more than 6N·D).
    let total = f64_at(&plan, "/time_and_cost/total_flops");
    let published_six_n_d = 2527.2e21;
    let attention = 12.0 * 118.0 * 48.0 * 256.0 * 2048.0 * 780e9;
    assert!(
        ((total - attention) / published_six_n_d - 1.0).abs() < 0.001,
        "{total}"
    );
}

/// Chinchilla: 70 B parameters on 1.4 T tokens, with the compute budget of Gopher,
/// 5.76 × 10²³ FLOPs (Hoffmann et al. 2022, arXiv:2203.15556), which the
/// paper's `C ≈ 6ND` gives within 2.1 %. The architecture is not a bundled preset, so this
/// checks the time-and-cost core directly.
#[test]
fn chinchilla_compute_reproduces_from_tokens_and_parameters() {
    use mfu_exporter::accounting::plan::cost::{estimate, CostInput, Pace};
    let c = estimate(&CostInput {
        tokens: 1.4e12,
        flops_per_token: 6.0 * 70e9,
        gpus: 1,
        peak_flops_per_gpu: 1e15,
        pace: Pace::Mfu(0.5),
        goodput: 1.0,
        price_per_gpu_hour: None,
    });
    assert!(
        (c.total_flops / 5.76e23 - 1.0).abs() < 0.021,
        "{}",
        c.total_flops
    );
}

/// The roofline against a published throughput-vs-batch table (MosaicML's llm-foundry, MPT-7B
/// on 8 A100 80GB at 2048 tokens, FSDP; `tests/fixtures/plan/throughput_vs_batch.json`). The
/// roofline is a ceiling: it stays above every measured MFU. It also says what it cannot see:
/// at 2048 tokens per sequence every weight matmul is compute-bound from one sequence on, so
/// its bound does not move with the micro-batch, while the measured MFU rises by 40 % from 1
/// to 6 sequences (FSDP gathers the weights once per micro-batch, a cost the roofline leaves
/// out). Every micro-batch the table ran fits in 80 GiB by the memory estimate too.
#[test]
fn roofline_is_a_ceiling_over_a_published_throughput_vs_batch_table() {
    let text =
        std::fs::read_to_string(repo_path("tests/fixtures/plan/throughput_vs_batch.json")).unwrap();
    let table: Value = serde_json::from_str(&text).unwrap();
    let model = repo_path(table["model"].as_str().unwrap());
    let plan_at = |micro_batch: u64| {
        let b = micro_batch.to_string();
        plan_json(&[
            "--model",
            model.to_str().unwrap(),
            "--seq-len",
            "2048",
            "--gpu",
            "a100-sxm",
            "--memory-bandwidth-tbps",
            "2.039",
            "--gpu-memory-gib",
            "80",
            "--gpus",
            "8",
            "--fsdp",
            "--micro-batch-size",
            &b,
        ])
    };
    let plan = plan_at(1);
    let points = plan["roofline"]["points"].as_array().unwrap().clone();
    let bound_at = |b: u64| {
        points
            .iter()
            .find(|p| p["micro_batch_size"] == b)
            .map(|p| f64_at(p, "/mfu_bound"))
    };
    let mut measured_first = None;
    for row in table["rows"].as_array().unwrap() {
        let b = u64_at(row, "/micro_batch_size");
        let measured = f64_at(row, "/mfu");
        measured_first.get_or_insert(measured);
        // Micro-batch 6 is not a power of two: the bounds on each side hold it.
        let bound = bound_at(b)
            .or_else(|| bound_at(4).zip(bound_at(8)).map(|(a, c)| a.min(c)))
            .unwrap();
        assert!(
            bound > measured,
            "micro-batch {b}: bound {bound}, measured {measured}"
        );
        assert_eq!(
            plan_at(b)["memory"]["fits"],
            true,
            "micro-batch {b} ran, so it fits"
        );
    }
    let flat = bound_at(8).unwrap() / bound_at(1).unwrap();
    assert!((flat - 1.0).abs() < 0.01, "{flat}");
    assert!(measured_first.unwrap() < 0.5);
}
