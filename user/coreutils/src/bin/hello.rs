//! `hello`: prints a greeting (the smallest Hypha program).
fn main() {
    println!("Hello from Hypha!");
}
