//! `parse_push`: the body of `POST /api/v1/push` into validated samples.
//!
//! Besides "no panic", it checks what the parser promises for an accepted body (sample count,
//! run names, every number finite and in range) and that one object and an array holding only
//! that object give the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfu_exporter::ingest::push::{
    parse_push, validate_run_name, PushSample, MAX_SAMPLES_PER_PUSH, MAX_TOKENS_PER_SECOND,
};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_push(data);
    match &parsed {
        Ok(samples) => {
            assert!(!samples.is_empty() && samples.len() <= MAX_SAMPLES_PER_PUSH);
            for sample in samples {
                check_sample(sample);
            }
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
        }
    }

    // A body that is one object means the same as an array of just that object.
    if let Ok(samples) = &parsed {
        let trimmed = data
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(data)
            .trim_ascii();
        if trimmed.starts_with(b"{") {
            let mut wrapped = b"[".to_vec();
            wrapped.extend_from_slice(trimmed);
            wrapped.extend_from_slice(b"]");
            assert_eq!(parse_push(&wrapped).as_ref(), Ok(samples));
        }
    }
});

fn check_sample(sample: &PushSample) {
    assert_eq!(validate_run_name(&sample.run), Ok(()), "{sample:?}");
    let observation = &sample.observation;
    let rate = observation
        .tokens_per_second
        .expect("every accepted sample has a rate");
    assert!(
        rate.is_finite() && (0.0..=MAX_TOKENS_PER_SECOND).contains(&rate),
        "{sample:?}"
    );
    if let Some(seconds) = observation.step_seconds {
        // With a rate, `seconds` may come alone (a step time); with tokens it gives the rate.
        assert!(seconds.is_finite() && seconds > 0.0, "{sample:?}");
    }
    if let Some(tokens) = observation.tokens {
        assert!(tokens.is_finite() && tokens >= 0.0, "{sample:?}");
    }
    if let Some(loss) = observation.loss {
        assert!(loss.is_finite(), "{sample:?}");
    }
    if let Some(mfu) = observation.reported_mfu {
        assert!((0.0..=1.0).contains(&mfu), "{sample:?}");
    }
}
