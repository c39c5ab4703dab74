//! Property test: random interleavings of create / resume / drop over a few
//! fibers agree with a plain model, and every closure is dropped exactly once.

use std::cell::Cell;
use std::rc::Rc;

use hypha_fiber::{Cancelled, Fiber, FiberResult, FiberStack, Suspend};
use proptest::prelude::*;

const SLOTS: usize = 4;
const K: u64 = 6_364_136_223_846_793_005;

#[derive(Debug, Clone)]
enum Op {
    Create { slot: usize, seed: u64, steps: u32 },
    Resume { slot: usize, value: u64 },
    Drop { slot: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..SLOTS, any::<u64>(), 0_u32..5).prop_map(|(slot, seed, steps)| Op::Create { slot, seed, steps }),
        4 => (0..SLOTS, any::<u64>()).prop_map(|(slot, value)| Op::Resume { slot, value }),
        1 => (0..SLOTS).prop_map(|slot| Op::Drop { slot }),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Model {
    NotStarted { seed: u64, steps: u32 },
    Running { acc: u64, remaining: u32 },
    Done,
}

impl Model {
    /// The model's answer to `resume(value)`.
    fn resume(&mut self, value: u64) -> FiberResult<u64, u64> {
        let (acc, remaining) = match *self {
            Model::NotStarted { seed, steps } => (value ^ seed, steps),
            Model::Running { acc, remaining } => (acc.wrapping_mul(K).wrapping_add(value), remaining - 1),
            Model::Done => unreachable!("the test never resumes a finished fiber"),
        };
        if remaining == 0 {
            *self = Model::Done;
            FiberResult::Return(acc)
        } else {
            *self = Model::Running { acc, remaining };
            FiberResult::Yield(acc)
        }
    }
}

struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

type F = Fiber<'static, u64, u64, Result<u64, Cancelled>>;

fn make(seed: u64, steps: u32, drops: &Rc<Cell<u32>>) -> F {
    let counted = Counted(Rc::clone(drops));
    Fiber::new(
        FiberStack::new(16 * 1024).unwrap(),
        move |first: u64, s: &Suspend<u64, u64, Result<u64, Cancelled>>| {
            let _counted = counted;
            let mut acc = first ^ seed;
            for _ in 0..steps {
                let next = s.suspend(acc)?;
                acc = acc.wrapping_mul(K).wrapping_add(next);
            }
            Ok(acc)
        },
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn interleavings_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let drops = Rc::new(Cell::new(0));
        let mut created = 0;
        let mut fibers: Vec<Option<(F, Model)>> = (0..SLOTS).map(|_| None).collect();
        for op in ops {
            match op {
                Op::Create { slot, seed, steps } => {
                    fibers[slot] = Some((make(seed, steps, &drops), Model::NotStarted { seed, steps }));
                    created += 1;
                }
                Op::Resume { slot, value } => {
                    if let Some((fiber, model)) = &mut fibers[slot] {
                        if fiber.is_finished() {
                            prop_assert!(matches!(model, Model::Done));
                            continue;
                        }
                        let got = match fiber.resume(value) {
                            FiberResult::Yield(y) => FiberResult::Yield(y),
                            FiberResult::Return(r) => FiberResult::Return(r.expect("not cancelled")),
                        };
                        prop_assert_eq!(got, model.resume(value));
                    }
                }
                Op::Drop { slot } => fibers[slot] = None,
            }
        }
        drop(fibers);
        prop_assert_eq!(drops.get(), created, "every closure dropped exactly once");
    }
}
