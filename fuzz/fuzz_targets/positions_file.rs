//! The tailer's positions file (`--state-file`), read back after a restart: its JSON into
//! `Positions`.
//!
//! Besides "no panic", it checks that whatever is accepted writes out and reads back as the same
//! positions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfu_exporter::ingest::tail::Positions;

fuzz_target!(|data: &[u8]| {
    let Ok(positions) = serde_json::from_slice::<Positions>(data) else {
        return;
    };
    let written = serde_json::to_vec_pretty(&positions).expect("positions always encode");
    let read_back: Positions =
        serde_json::from_slice(&written).expect("written positions read back");
    assert_eq!(read_back, positions);
    for path in positions.paths() {
        assert!(positions.offset(path).is_some());
    }
});
