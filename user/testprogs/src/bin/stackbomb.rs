//! `stackbomb`: recurses without bound until the call stack is exhausted
//! (the kernel must turn that into a stack-overflow trap of this process).
use std::hint::black_box;

#[expect(unconditional_recursion, reason = "exhausting the stack is the point")]
fn recurse(depth: u64, pad: [u64; 8]) -> u64 {
    // `black_box` keeps the frame and prevents turning this into a loop.
    let next = black_box(pad);
    recurse(depth + 1, next) + black_box(depth)
}

fn main() {
    println!("stackbomb: recursing until the stack runs out");
    let r = recurse(0, [0; 8]);
    // Unreachable in practice; printing the result keeps the call observable.
    println!("stackbomb: returned {r}");
}
