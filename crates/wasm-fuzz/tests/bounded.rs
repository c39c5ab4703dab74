//! A short, deterministic fuzz run as an ordinary test, so CI keeps
//! exercising both targets: 2,000 cases (1,000 per target) from a fixed
//! seed. A panic anywhere in hypha-wasm fails the test (and names the
//! case); the long runs are `cargo run --release -p hypha-wasm-fuzz`.

use hypha_wasm_fuzz::{Harness, Outcome, Rng, Target, generate};

#[test]
fn two_thousand_cases_without_panic() {
    let harness = Harness::new().expect("host engines");
    let mut rng = Rng::new(0x6879_7068_6100_0001);
    let mut total = Outcome::default();
    for case in 0..2000u32 {
        let target = if case % 2 == 0 { Target::Smith } else { Target::Bytes };
        let input = generate(target, &mut rng);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(target, &input)));
        match outcome {
            Ok(o) => total.add(o),
            Err(_) => panic!("case {case} ({}) panicked; input: {input:?}", target.name()),
        }
    }
    // The generator must reach the runtime, not just the decoder.
    assert!(total.compiled > 500, "only {} modules compiled", total.compiled);
    assert!(total.calls > 300, "only {} exported calls", total.calls);
}
