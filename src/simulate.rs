//! A simulated training run that writes a JSON-lines log, so `demo` shows live values at once.
//!
//! The pure part, [`Simulation`], turns a [`TrainingProfile`] and a seed into a deterministic
//! sequence of [`Step`]s: a throughput warm-up, jitter, a slow episode, checkpoint pauses and a
//! decaying loss. [`format_line`] and [`format_eval_line`] write those steps the way a typical
//! trainer logs them. The I/O part, [`run_to_file`], plays the sequence in (scaled) real time and
//! appends the lines to a file that the exporter tails like any other training log.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every this many steps [`run_to_file`] also writes an evaluation line.
pub const EVAL_EVERY: u64 = 50;

/// The first warm-up step runs at this fraction of steady speed; the ramp climbs from there.
/// Compilation and cache warm-up make the first steps a few times slower, not a hundred times,
/// and a modest start keeps the first line of the demo within seconds.
const WARMUP_START_FRACTION: f64 = 0.3;

/// The loss approaches its final value with this e-folding length in steps, so that it is within
/// about one percent of the gap after the roughly 2000 steps of a demo.
const LOSS_DECAY_STEPS: f64 = 400.0;

/// Relative step-to-step noise of the training loss, the size real mini-batch losses show.
const LOSS_NOISE: f64 = 0.015;

/// Evaluation loss sits this fraction above the smooth training loss, a typical generalisation gap.
const EVAL_GAP: f64 = 0.03;

/// Step times are kept within these bounds so that every line carries positive, finite numbers
/// even for a profile with zero or absurd values.
const MIN_STEP_SECONDS: f64 = 1e-3;
const MAX_STEP_SECONDS: f64 = 3600.0;

/// Gaussian draws are cut at this many standard deviations so that a rare draw never produces a
/// step that looks like a stall.
const NOISE_CLIP_SIGMAS: f64 = 3.0;

/// The longest single sleep, so that a stop request is noticed within this time.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// The latest time RFC 3339 can express with a four-digit year: 9999-12-31T23:59:59.999Z.
const MAX_UNIX_MILLIS: i64 = 253_402_300_799_999;

/// The shape of a simulated training run. [`Default`] is an 8 × H100 job training Llama-3-8B.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingProfile {
    /// Global batch in tokens: 8 sequences × 8192 tokens = 65 536.
    pub tokens_per_step: u64,
    /// Throughput of the whole job once warmed up; 58 000 tokens/s (7 250 per GPU) is 42 % MFU
    /// by the PaLM formula for this job between pauses, and about 40 % over any five minutes
    /// with the checkpoint pauses counted: above the 35 % of the shipped `TrainingMFULow` alert,
    /// so the demo does not alert on itself.
    pub steady_tokens_per_second: f64,
    /// Throughput ramps up over these first steps (compilation, cache warm-up).
    pub warmup_steps: u64,
    /// Relative jitter (standard deviation) of the step time, e.g. 0.03.
    pub noise: f64,
    /// Steps in `[start, end)` run at this fraction of steady speed: a straggler or thermal
    /// episode.
    pub slowdown: (u64, u64, f64),
    /// Every this many steps the trainer pauses to save a checkpoint; 0 never checkpoints.
    pub checkpoint_every: u64,
    /// How long a checkpoint pause lasts.
    pub checkpoint_seconds: f64,
    /// The loss at step 0; it decays roughly exponentially towards `final_loss`.
    pub initial_loss: f64,
    /// The loss the run converges to.
    pub final_loss: f64,
    /// Peak FLOP/s of all GPUs together, for the trainer's own `mfu` field.
    pub peak_flops: f64,
    /// Training FLOPs per token as the trainer estimates them (6N only), for its own `mfu` field.
    pub flops_per_token: f64,
}

impl Default for TrainingProfile {
    fn default() -> Self {
        TrainingProfile {
            tokens_per_step: 8 * 8192,
            steady_tokens_per_second: 58_000.0,
            warmup_steps: 8,
            noise: 0.03,
            slowdown: (40, 55, 0.6),
            checkpoint_every: 100,
            checkpoint_seconds: 6.0,
            initial_loss: 10.5,
            final_loss: 2.2,
            peak_flops: 8.0 * 989.4e12,
            flops_per_token: 4.5e10,
        }
    }
}

impl TrainingProfile {
    /// The smooth (noise-free) training loss after `step` steps.
    pub fn expected_loss(&self, step: u64) -> f64 {
        let gap = self.initial_loss - self.final_loss;
        self.final_loss + gap * (-(step as f64) / LOSS_DECAY_STEPS).exp()
    }

    /// The throughput fraction of the warm-up ramp at `step` (1-based): rising in equal increments
    /// from [`WARMUP_START_FRACTION`] and reaching 1 at the first step after the warm-up.
    fn warmup_fraction(&self, step: u64) -> f64 {
        if step > self.warmup_steps {
            return 1.0;
        }
        let progress = step as f64 / (self.warmup_steps + 1) as f64;
        WARMUP_START_FRACTION + (1.0 - WARMUP_START_FRACTION) * progress
    }

    /// The slow-episode fraction at `step`: the configured fraction inside the window, else 1.
    fn slowdown_fraction(&self, step: u64) -> f64 {
        let (start, end, fraction) = self.slowdown;
        if (start..end).contains(&step) {
            fraction
        } else {
            1.0
        }
    }

    /// Whether a checkpoint was saved after the previous step, so that `step` starts late.
    fn checkpoint_before(&self, step: u64) -> bool {
        self.checkpoint_every > 0 && step > 1 && (step - 1) % self.checkpoint_every == 0
    }

    /// A copy whose noise, pause and slowdown values are usable: a negative or non-finite jitter
    /// or pause becomes 0, and a slowdown fraction that is not a positive number becomes 1 (no
    /// slowdown), so that no value of the profile can make a step time NaN.
    fn sanitized(mut self) -> Self {
        if !self.noise.is_finite() || self.noise < 0.0 {
            self.noise = 0.0;
        }
        if !self.checkpoint_seconds.is_finite() || self.checkpoint_seconds < 0.0 {
            self.checkpoint_seconds = 0.0;
        }
        if !self.slowdown.2.is_finite() || self.slowdown.2 <= 0.0 {
            self.slowdown.2 = 1.0;
        }
        self
    }
}

/// One simulated training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The step counter, from 1.
    pub step: u64,
    /// How long the step's computation took (what a trainer logs as `dt`).
    pub step_seconds: f64,
    /// Time the trainer spent before the step started, such as saving a checkpoint.
    pub pause_before_seconds: f64,
    /// Tokens processed in the step.
    pub tokens: u64,
    /// The training loss the step reports.
    pub loss: f64,
}

impl Step {
    /// The step's throughput: tokens over step time, pauses excluded.
    pub fn tokens_per_second(&self) -> f64 {
        self.tokens as f64 / self.step_seconds
    }
}

/// A deterministic simulated training run: the same profile and seed give the same steps.
#[derive(Debug, Clone)]
pub struct Simulation {
    profile: TrainingProfile,
    rng: SplitMix64,
    step: u64,
}

impl Simulation {
    /// A run that has not taken a step yet. Values outside their documented ranges are tamed (see
    /// the field docs of [`TrainingProfile`]) so that every step is positive and finite.
    pub fn new(profile: TrainingProfile, seed: u64) -> Simulation {
        Simulation {
            profile: profile.sanitized(),
            rng: SplitMix64::new(seed),
            step: 0,
        }
    }

    /// The profile the run follows, after taming.
    pub fn profile(&self) -> &TrainingProfile {
        &self.profile
    }

    /// The next step: 1, 2, 3, ...
    pub fn next_step(&mut self) -> Step {
        self.step = self.step.saturating_add(1);
        let step = self.step;
        let profile = &self.profile;

        // The jitter multiplies the step time log-normally, so it stays positive for any noise
        // level while matching a relative standard deviation of `noise` for small values.
        let jitter = (profile.noise * self.rng.clipped_gaussian()).exp();
        let rate = profile.steady_tokens_per_second
            * profile.warmup_fraction(step)
            * profile.slowdown_fraction(step);
        let tokens = profile.tokens_per_step;
        let step_seconds = bounded_step_seconds(tokens as f64 / rate * jitter);

        let pause_before_seconds = if profile.checkpoint_before(step) {
            profile.checkpoint_seconds
        } else {
            0.0
        };

        let loss = profile.expected_loss(step) * (LOSS_NOISE * self.rng.clipped_gaussian()).exp();

        Step {
            step,
            step_seconds,
            pause_before_seconds,
            tokens,
            loss,
        }
    }

    /// The evaluation loss for `step` when the run evaluates after it (every [`EVAL_EVERY`]
    /// steps), else `None`. It follows the smooth loss curve plus a small gap and draws no random
    /// numbers, so asking for it never changes the sequence of steps.
    pub fn eval_loss(&self, step: u64) -> Option<f64> {
        if step == 0 || step % EVAL_EVERY != 0 {
            return None;
        }
        Some(self.profile.expected_loss(step) * (1.0 + EVAL_GAP))
    }
}

/// Keeps a step time inside [`MIN_STEP_SECONDS`, `MAX_STEP_SECONDS`]; NaN (a zero rate over zero
/// tokens) counts as the longest step.
fn bounded_step_seconds(seconds: f64) -> f64 {
    if seconds.is_nan() {
        MAX_STEP_SECONDS
    } else {
        seconds.clamp(MIN_STEP_SECONDS, MAX_STEP_SECONDS)
    }
}

/// SplitMix64: a tiny, well-mixed generator, plenty for jitter and reproducible from one number.
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits so that every value is an exact double.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box-Muller), cut at ±[`NOISE_CLIP_SIGMAS`].
    fn clipped_gaussian(&mut self) -> f64 {
        // 1 - u lies in (0, 1], which keeps the logarithm finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        z.clamp(-NOISE_CLIP_SIGMAS, NOISE_CLIP_SIGMAS)
    }
}

/// One JSON line (no trailing newline) as a typical trainer logs a step:
/// `{"time": "<RFC 3339 UTC, milliseconds>", "step": n, "loss": x, "tokens": t, "dt": s,
/// "tokens_per_sec": r, "mfu": m}`.
///
/// `time` is `unix_time_seconds`; `dt` is written to 0.1 ms and `r` is `tokens / dt` of the
/// written `dt`, so the line agrees with itself. `m = r × flops_per_token / peak_flops` is a
/// ratio, capped at 1 because the exporter rejects a reported MFU above 1; when `peak_flops` is
/// not a positive number the trainer cannot know its MFU and the field is left out. A number that
/// is not finite is written as `null`, which the exporter reads as absent.
pub fn format_line(step: &Step, unix_time_seconds: f64, profile: &TrainingProfile) -> String {
    let dt = (step.step_seconds * 1e4).round() / 1e4;
    let rate = if dt > 0.0 {
        step.tokens as f64 / dt
    } else {
        f64::NAN
    };
    let mut line = format!(
        "{{\"time\": \"{}\", \"step\": {}, \"loss\": {}, \"tokens\": {}, \"dt\": {}, \
         \"tokens_per_sec\": {}",
        rfc3339_utc_millis(unix_time_seconds),
        step.step,
        json_number(step.loss, 4),
        step.tokens,
        json_number(dt, 4),
        json_number(rate, 1),
    );
    if profile.peak_flops.is_finite() && profile.peak_flops > 0.0 {
        let mfu = (rate * profile.flops_per_token / profile.peak_flops).clamp(0.0, 1.0);
        line.push_str(&format!(", \"mfu\": {}", json_number(mfu, 4)));
    }
    line.push('}');
    line
}

/// One evaluation JSON line (no trailing newline): `{"time": ..., "step": n, "eval_loss": x}`. It
/// has no throughput fields, so the exporter ignores it as it must ignore any trainer's eval lines.
pub fn format_eval_line(step: u64, eval_loss: f64, unix_time_seconds: f64) -> String {
    format!(
        "{{\"time\": \"{}\", \"step\": {}, \"eval_loss\": {}}}",
        rfc3339_utc_millis(unix_time_seconds),
        step,
        json_number(eval_loss, 4),
    )
}

/// A JSON number with `decimals` places, or `null` for NaN and infinities, which JSON cannot hold.
fn json_number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "null".to_owned()
    }
}

/// `unix_time_seconds` as RFC 3339 in UTC with milliseconds: `2023-11-14T22:13:20.250Z`.
///
/// The time is rounded to the millisecond and clamped to years 1970..=9999 so that the result is
/// always a timestamp the exporter accepts; NaN counts as the epoch.
fn rfc3339_utc_millis(unix_time_seconds: f64) -> String {
    let millis = if unix_time_seconds.is_nan() {
        0
    } else {
        // The float-to-integer cast saturates, and the clamp keeps the year to four digits.
        ((unix_time_seconds * 1000.0).round() as i64).clamp(0, MAX_UNIX_MILLIS)
    };
    let days = millis.div_euclid(86_400_000);
    let millis_of_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let hour = millis_of_day / 3_600_000;
    let minute = millis_of_day / 60_000 % 60;
    let second = millis_of_day / 1000 % 60;
    let milli = millis_of_day % 1000;
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), which works in 400-year eras starting on March 1 so that the leap day is the
/// last day of each shifted year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Runs the simulation in real time on the calling thread until `stop` is set.
///
/// For each step it sleeps the step's pause plus its step time divided by `speed` (1.0 is real
/// time; larger is faster), then appends the step's line, and after every [`EVAL_EVERY`]th step an
/// evaluation line, to `path`. The file is created if missing and opened for appending; each line,
/// newline included, goes out in one `write_all` and is flushed, so a tailer never sees half a line
/// from this writer. The line's `time` is the wall clock when the step finishes. Sleeps come in
/// slices of at most 100 ms, so setting `stop` ends the run within about that long; nothing is
/// written after `stop` is seen.
///
/// Returns `Ok(())` once stopped, or the first I/O error. A `speed` that is not a positive number
/// is an [`io::ErrorKind::InvalidInput`] error.
pub fn run_to_file(
    path: &Path,
    profile: TrainingProfile,
    seed: u64,
    speed: f64,
    stop: &AtomicBool,
) -> io::Result<()> {
    if speed.is_nan() || speed <= 0.0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("simulation speed must be a positive number, got {speed}"),
        ));
    }
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let mut simulation = Simulation::new(profile, seed);
    // Each step's wait is measured from when the previous line was written, as a trainer's next
    // step starts once it has logged the last one.
    let mut step_started = Instant::now();
    loop {
        let step = simulation.next_step();
        let wait_seconds = (step.pause_before_seconds + step.step_seconds) / speed;
        if !sleep_unless_stopped(step_started, wait_seconds, stop) {
            return Ok(());
        }
        step_started = Instant::now();
        let now = unix_now_seconds();
        let mut text = format_line(&step, now, simulation.profile());
        text.push('\n');
        if let Some(eval_loss) = simulation.eval_loss(step.step) {
            // The evaluation line is a separate write so that each write holds exactly one line.
            file.write_all(text.as_bytes())?;
            file.flush()?;
            text = format_eval_line(step.step, eval_loss, now);
            text.push('\n');
        }
        file.write_all(text.as_bytes())?;
        file.flush()?;
    }
}

/// Sleeps until `seconds` after `since`, in slices of at most [`SLEEP_SLICE`]. Returns `false` as
/// soon as `stop` is set, `true` when the time is up.
fn sleep_unless_stopped(since: Instant, seconds: f64, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let remaining = seconds - since.elapsed().as_secs_f64();
        // A NaN ends the wait too, although no tamed profile produces one.
        if remaining.is_nan() || remaining <= 0.0 {
            return true;
        }
        let slice = if remaining < SLEEP_SLICE.as_secs_f64() {
            Duration::from_secs_f64(remaining)
        } else {
            SLEEP_SLICE
        };
        thread::sleep(slice);
    }
}

/// The wall clock as Unix seconds; a clock set before 1970 reads as the epoch.
fn unix_now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn steps(profile: TrainingProfile, seed: u64, count: usize) -> Vec<Step> {
        let mut simulation = Simulation::new(profile, seed);
        (0..count).map(|_| simulation.next_step()).collect()
    }

    fn mean(values: impl Iterator<Item = f64>) -> f64 {
        let (sum, count) = values.fold((0.0, 0usize), |(sum, count), v| (sum + v, count + 1));
        sum / count as f64
    }

    fn quiet_profile() -> TrainingProfile {
        TrainingProfile {
            noise: 0.0,
            ..TrainingProfile::default()
        }
    }

    /// A path in the temporary directory unique to this process and test, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "mfu-exporter-simulate-{}-{name}.jsonl",
                std::process::id()
            ));
            let _ = fs::remove_file(&path);
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = fs::remove_file(&self.0);
        }
    }

    /// Days since 1970-01-01 of a civil date, the inverse of `civil_from_days`, to check it.
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let shifted_month = if month > 2 { month - 3 } else { month + 9 };
        let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// Parses the writer's own format back to Unix milliseconds.
    fn parse_rfc3339_millis(text: &str) -> i64 {
        let bytes = text.as_bytes();
        assert_eq!(text.len(), 24, "{text}");
        assert_eq!(
            (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16], bytes[19], bytes[23]),
            (b'-', b'-', b'T', b':', b':', b'.', b'Z'),
            "{text}"
        );
        let field = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
        let days = days_from_civil(field(0..4), field(5..7), field(8..10));
        let seconds = field(11..13) * 3600 + field(14..16) * 60 + field(17..19);
        days * 86_400_000 + seconds * 1000 + field(20..23)
    }

    #[test]
    fn warmup_ramps_up_to_steady_speed() {
        let profile = quiet_profile();
        let warmup = profile.warmup_steps as usize;
        let run = steps(profile.clone(), 1, warmup + 2);
        let rates: Vec<f64> = run.iter().map(Step::tokens_per_second).collect();
        for pair in rates[..=warmup].windows(2) {
            assert!(pair[0] < pair[1], "warm-up not increasing: {rates:?}");
        }
        assert!(rates[0] < 0.5 * profile.steady_tokens_per_second);
        for rate in &rates[warmup..] {
            assert!((rate / profile.steady_tokens_per_second - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn warmup_is_visible_through_the_noise() {
        let profile = TrainingProfile::default();
        let run = steps(profile.clone(), 7, 30);
        let steady = mean(run[10..30].iter().map(Step::tokens_per_second));
        assert!(run[0].tokens_per_second() < 0.5 * steady);
        assert!((steady / profile.steady_tokens_per_second - 1.0).abs() < 0.05);
    }

    #[test]
    fn step_time_matches_throughput() {
        let profile = TrainingProfile::default();
        for step in steps(profile.clone(), 3, 200) {
            assert_eq!(step.tokens, profile.tokens_per_step);
            assert!(step.step_seconds > 0.0 && step.step_seconds.is_finite());
            let relative = step.tokens_per_second() / profile.steady_tokens_per_second;
            // Warm-up and the slow episode lower the rate; jitter stays within three sigmas.
            assert!(
                relative > 0.25 && relative < 1.1,
                "step {}: {relative}",
                step.step
            );
        }
    }

    #[test]
    fn slowdown_window_is_slower() {
        let profile = TrainingProfile::default();
        let (start, end, fraction) = profile.slowdown;
        let run = steps(profile.clone(), 11, 120);
        let inside = mean(
            run.iter()
                .filter(|s| (start..end).contains(&s.step))
                .map(Step::tokens_per_second),
        );
        let outside = mean(
            run.iter()
                .filter(|s| s.step > profile.warmup_steps && !(start..end).contains(&s.step))
                .map(Step::tokens_per_second),
        );
        assert!(
            (inside / outside - fraction).abs() < 0.05,
            "{inside} vs {outside}"
        );

        let quiet = steps(quiet_profile(), 11, 60);
        let rate = |step: u64| quiet[step as usize - 1].tokens_per_second();
        assert!(rate(start - 1) > rate(start));
        assert!((rate(start) / rate(start - 1) - fraction).abs() < 1e-9);
        assert!((rate(end - 1) / rate(end) - fraction).abs() < 1e-9);
    }

    #[test]
    fn checkpoints_pause_every_n_steps() {
        let profile = TrainingProfile::default();
        let every = profile.checkpoint_every;
        for step in steps(profile.clone(), 5, 200) {
            let expected = if step.step > 1 && (step.step - 1) % every == 0 {
                profile.checkpoint_seconds
            } else {
                0.0
            };
            assert_eq!(step.pause_before_seconds, expected, "step {}", step.step);
        }
        let never = TrainingProfile {
            checkpoint_every: 0,
            ..TrainingProfile::default()
        };
        assert!(steps(never, 5, 100)
            .iter()
            .all(|s| s.pause_before_seconds == 0.0));
    }

    #[test]
    fn same_seed_gives_same_sequence() {
        let a = steps(TrainingProfile::default(), 42, 500);
        let b = steps(TrainingProfile::default(), 42, 500);
        assert_eq!(a, b);
        let c = steps(TrainingProfile::default(), 43, 500);
        assert_ne!(a, c);
        let numbers: Vec<u64> = a.iter().map(|s| s.step).collect();
        assert_eq!(numbers, (1..=500).collect::<Vec<u64>>());
    }

    #[test]
    fn eval_loss_does_not_change_the_sequence() {
        let mut plain = Simulation::new(TrainingProfile::default(), 9);
        let mut asking = Simulation::new(TrainingProfile::default(), 9);
        for _ in 0..120 {
            let step = asking.next_step();
            let _ = asking.eval_loss(step.step);
            assert_eq!(plain.next_step(), step);
        }
        assert!(asking.eval_loss(49).is_none());
        assert!(asking.eval_loss(0).is_none());
        assert!(asking.eval_loss(50).is_some());
    }

    #[test]
    fn loss_decays_towards_the_final_value() {
        let profile = TrainingProfile::default();
        let run = steps(profile.clone(), 2, 2000);
        assert!(run.iter().all(|s| s.loss > 0.0 && s.loss.is_finite()));
        let early = mean(run[..10].iter().map(|s| s.loss));
        let late = mean(run[1990..].iter().map(|s| s.loss));
        assert!((early - profile.initial_loss).abs() < 0.5, "{early}");
        assert!((late - profile.final_loss).abs() < 0.1, "{late}");
        assert!(run[100].loss > run[1000].loss);
    }

    #[test]
    fn absurd_profiles_still_give_positive_finite_steps() {
        let absurd = TrainingProfile {
            tokens_per_step: 0,
            steady_tokens_per_second: 0.0,
            noise: f64::NAN,
            slowdown: (0, 10, -1.0),
            checkpoint_seconds: f64::INFINITY,
            ..TrainingProfile::default()
        };
        for step in steps(absurd, 1, 100) {
            assert!(step.step_seconds > 0.0 && step.step_seconds.is_finite());
            assert!(step.pause_before_seconds.is_finite());
        }
    }

    #[test]
    fn format_line_is_json_with_the_documented_fields() {
        let profile = TrainingProfile::default();
        let step = Step {
            step: 12,
            step_seconds: 1.5,
            pause_before_seconds: 0.0,
            tokens: 65_536,
            loss: 9.87654,
        };
        let line = format_line(&step, 1_700_000_000.25, &profile);
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let object = value.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "dt",
                "loss",
                "mfu",
                "step",
                "time",
                "tokens",
                "tokens_per_sec"
            ]
        );
        assert_eq!(object["time"], "2023-11-14T22:13:20.250Z");
        assert_eq!(object["step"], 12);
        assert_eq!(object["tokens"], 65_536);
        assert_eq!(object["dt"].as_f64().unwrap(), 1.5);
        assert!((object["loss"].as_f64().unwrap() - 9.8765).abs() < 1e-12);
        let rate = object["tokens_per_sec"].as_f64().unwrap();
        assert!((rate - 65_536.0 / 1.5).abs() < 0.05);
        let mfu = object["mfu"].as_f64().unwrap();
        let expected = 65_536.0 / 1.5 * profile.flops_per_token / profile.peak_flops;
        assert!((mfu - expected).abs() < 1e-4, "{mfu} vs {expected}");
        assert!(mfu > 0.0 && mfu < 1.0);
    }

    #[test]
    fn format_line_keeps_the_trainer_mfu_a_ratio() {
        let step = Step {
            step: 1,
            step_seconds: 1.0,
            pause_before_seconds: 0.0,
            tokens: 65_536,
            loss: 10.0,
        };
        let tiny_peak = TrainingProfile {
            peak_flops: 1.0,
            ..TrainingProfile::default()
        };
        let value: serde_json::Value =
            serde_json::from_str(&format_line(&step, 0.0, &tiny_peak)).unwrap();
        assert_eq!(value["mfu"].as_f64().unwrap(), 1.0);

        let no_peak = TrainingProfile {
            peak_flops: 0.0,
            ..TrainingProfile::default()
        };
        let value: serde_json::Value =
            serde_json::from_str(&format_line(&step, 0.0, &no_peak)).unwrap();
        assert!(value.get("mfu").is_none());
        assert!(value.get("tokens_per_sec").is_some());
    }

    #[test]
    fn format_line_writes_null_not_garbage_for_non_finite_numbers() {
        let step = Step {
            step: 1,
            step_seconds: 0.0,
            pause_before_seconds: 0.0,
            tokens: 65_536,
            loss: f64::NAN,
        };
        let value: serde_json::Value =
            serde_json::from_str(&format_line(&step, f64::NAN, &TrainingProfile::default()))
                .unwrap();
        assert!(value["loss"].is_null());
        assert!(value["tokens_per_sec"].is_null());
        assert_eq!(value["time"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn simulated_lines_agree_with_themselves() {
        let profile = TrainingProfile::default();
        let mut simulation = Simulation::new(profile.clone(), 4);
        for _ in 0..100 {
            let step = simulation.next_step();
            let line = format_line(&step, 1_700_000_000.0, &profile);
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let dt = value["dt"].as_f64().unwrap();
            let rate = value["tokens_per_sec"].as_f64().unwrap();
            assert!((step.tokens as f64 / dt - rate).abs() < 0.06, "{line}");
            assert!((dt - step.step_seconds).abs() <= 5e-5 + 1e-12, "{line}");
            let mfu = value["mfu"].as_f64().unwrap();
            // The default trainer counts 6N per token: about 33 % at steady speed, jitter
            // around it, less during the warm-up and the slow episode.
            assert!(mfu > 0.05 && mfu < 0.45, "{line}");
        }
    }

    #[test]
    fn format_eval_line_has_no_throughput_fields() {
        let line = format_eval_line(50, 3.25049, 0.0);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let object = value.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["eval_loss", "step", "time"]);
        assert_eq!(object["step"], 50);
        assert_eq!(object["eval_loss"].as_f64().unwrap(), 3.2505);
        assert_eq!(object["time"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn timestamps_for_known_unix_times() {
        let cases = [
            (0.0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000.25, "2023-11-14T22:13:20.250Z"),
            (951_782_400.0, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199.999, "2024-02-29T23:59:59.999Z"),
            (1_000_000_000.0, "2001-09-09T01:46:40.000Z"),
            (4_107_542_400.0, "2100-03-01T00:00:00.000Z"),
            (59.9996, "1970-01-01T00:01:00.000Z"),
            (253_402_300_799.999, "9999-12-31T23:59:59.999Z"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(rfc3339_utc_millis(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn timestamps_outside_the_writable_range_are_clamped() {
        assert_eq!(rfc3339_utc_millis(-1.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc_millis(f64::NAN), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc_millis(1e300), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            rfc3339_utc_millis(f64::INFINITY),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn timestamps_round_trip() {
        // Odd strides visit every month, leap day, hour and millisecond pattern from 1970 to 2200.
        let mut millis: i64 = 0;
        while millis < 7_258_118_400_000 {
            let text = rfc3339_utc_millis(millis as f64 / 1000.0);
            assert_eq!(parse_rfc3339_millis(&text), millis, "{text}");
            millis += 86_400_000 / 3 + 7_777;
        }
    }

    /// Waits up to `limit` for `done`, polling.
    fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if done() {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        done()
    }

    #[test]
    fn run_to_file_writes_complete_lines_and_stops_when_told() {
        const WANTED: usize = 120;
        let file = TempFile::new("run");
        let path = file.0.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, stop) = (path.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                run_to_file(&path, TrainingProfile::default(), 1, 10_000.0, &stop)
            })
        };
        let enough = wait_for(Duration::from_secs(20), || {
            fs::read_to_string(&path).is_ok_and(|text| text.lines().count() >= WANTED)
        });
        stop.store(true, Ordering::Relaxed);
        assert!(enough, "fewer than {WANTED} lines within the deadline");
        assert!(
            wait_for(Duration::from_secs(5), || writer.is_finished()),
            "run_to_file did not stop"
        );
        writer.join().unwrap().unwrap();

        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let mut expected_step = 1;
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            if value.get("eval_loss").is_some() {
                assert_eq!(value["step"], expected_step - 1);
                assert_eq!((expected_step - 1) % EVAL_EVERY, 0);
                assert!(value.get("tokens_per_sec").is_none());
            } else {
                assert_eq!(value["step"], expected_step, "{line}");
                expected_step += 1;
                assert!(value["tokens_per_sec"].as_f64().unwrap() > 0.0);
            }
        }
        assert!(expected_step > 100);
    }

    #[test]
    fn run_to_file_stops_promptly_in_real_time() {
        let file = TempFile::new("prompt");
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let writer = {
            let (path, stop) = (file.0.clone(), Arc::clone(&stop));
            thread::spawn(move || run_to_file(&path, TrainingProfile::default(), 1, 1.0, &stop))
        };
        thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        assert!(
            wait_for(Duration::from_secs(5), || writer.is_finished()),
            "run_to_file did not stop"
        );
        writer.join().unwrap().unwrap();
        // The first warm-up step takes seconds at real time, so a prompt stop writes nothing.
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(fs::read_to_string(&file.0).unwrap(), "");
    }

    #[test]
    fn run_to_file_appends_to_an_existing_log() {
        let file = TempFile::new("append");
        fs::write(&file.0, "{\"earlier\": true}\n").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, stop) = (file.0.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                run_to_file(&path, TrainingProfile::default(), 1, 10_000.0, &stop)
            })
        };
        let written = wait_for(Duration::from_secs(20), || {
            fs::read_to_string(&file.0).is_ok_and(|text| text.lines().count() >= 3)
        });
        stop.store(true, Ordering::Relaxed);
        assert!(written);
        assert!(wait_for(Duration::from_secs(5), || writer.is_finished()));
        writer.join().unwrap().unwrap();
        let text = fs::read_to_string(&file.0).unwrap();
        assert!(text.starts_with("{\"earlier\": true}\n{\"time\": "));
    }

    #[test]
    fn run_to_file_reports_errors() {
        let stop = AtomicBool::new(false);
        let missing_dir = std::env::temp_dir()
            .join(format!(
                "mfu-exporter-simulate-{}-missing",
                std::process::id()
            ))
            .join("train.jsonl");
        let error =
            run_to_file(&missing_dir, TrainingProfile::default(), 1, 1.0, &stop).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);

        let file = TempFile::new("speed");
        for speed in [0.0, -1.0, f64::NAN] {
            let error =
                run_to_file(&file.0, TrainingProfile::default(), 1, speed, &stop).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        }
        assert!(!file.0.exists());
    }
}
