//! `loop`: spins forever without calling the host (preemption must keep the
//! system responsive; `kill` ends it).
use std::hint::black_box;

fn main() {
    println!("loop: spinning forever");
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}
