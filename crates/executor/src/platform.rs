//! What the executor needs from the machine: parking CPUs and a clock.
//!
//! The kernel implements these with WFI, IPIs, hart-local storage and the
//! `time` CSR; the host implements them with threads ([`crate::host`]).

use core::time::Duration;

/// Parks and unparks the CPUs that run workers, and says which worker the
/// caller runs on.
///
/// # Safety
///
/// Implementors promise:
///
/// 1. [`current_cpu`](Park::current_cpu) returns `Some(i)` only when called
///    on the thread/hart that called [`enter(i)`](Park::enter) and has not
///    yet called [`exit(i)`](Park::exit) (the executor then pushes to CPU
///    `i`'s single-producer run queue, which only that CPU may do).
/// 2. An [`unpark(i)`](Park::unpark) that happens before or during
///    [`park(i, ..)`](Park::park) makes that park return (a token: a wake is
///    never lost, though a park may also return spuriously).
pub unsafe trait Park: Send + Sync + 'static {
    /// The calling CPU starts running worker `cpu`.
    fn enter(&self, cpu: usize);

    /// The calling CPU stops running worker `cpu`.
    fn exit(&self, cpu: usize);

    /// The worker index of the calling CPU, if it is inside a worker loop of
    /// the executor that owns this `Park`.
    fn current_cpu(&self) -> Option<usize>;

    /// Blocks the calling CPU (worker `cpu`) until [`unpark(cpu)`] or until
    /// `timeout` has passed (forever when `None`). May return early.
    ///
    /// [`unpark(cpu)`]: Park::unpark
    fn park(&self, cpu: usize, timeout: Option<Duration>);

    /// Wakes worker `cpu` from [`park`](Park::park), or makes its next park
    /// return at once. Called from any CPU (the kernel sends an IPI).
    fn unpark(&self, cpu: usize);

    /// Called by worker `cpu` between two task polls, outside every
    /// executor lock. The platform may do deferred work here (the kernel
    /// delivers wakes its interrupt handlers deferred). Returning `true`
    /// ends the worker's batch early, so timers, the injector and a
    /// `block_on` root get a look although every poll is long (the kernel
    /// returns `true` once per periodic timer tick, because a process's
    /// poll lasts a whole time slice). The default does nothing.
    fn between_polls(&self, cpu: usize) -> bool {
        let _ = cpu;
        false
    }
}

/// A monotonic clock.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary fixed origin (boot). Never decreases.
    fn now_nanos(&self) -> u64;
}
