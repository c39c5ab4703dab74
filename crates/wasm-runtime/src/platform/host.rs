//! [`HostPlatform`]: the [`Platform`] for Unix hosts (Linux first), built
//! on mmap/mprotect and a SIGSEGV/SIGBUS/SIGILL/SIGFPE handler running on
//! an alternate signal stack.

#![expect(clippy::multiple_unsafe_ops_per_block, reason = "signal-context and libc calls come in pairs whose one invariant is stated at each block")]

extern crate std;

use alloc::boxed::Box;
use core::any::Any;
use core::cell::Cell;
use core::ptr::{self, NonNull};
use std::sync::Once;

use super::{Fault, FaultAction, MemoryImage, Platform, PlatformError, Protection};

/// The host platform. Zero-sized: all state is process- or thread-global.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostPlatform;

std::thread_local! {
    static ACTIVATION: Cell<*mut u8> = const { Cell::new(ptr::null_mut()) };
    /// Whether `init_traps` succeeded on this thread (checked on every entry).
    static READY: Cell<bool> = const { Cell::new(false) };
    static ALT_STACK: AltStack = const { AltStack { base: Cell::new(ptr::null_mut()) } };
}

const ALT_STACK_SIZE: usize = 256 * 1024;

/// A thread's alternate signal stack, unmapped when the thread exits.
struct AltStack {
    base: Cell<*mut libc::c_void>,
}

impl AltStack {
    fn ensure(&self) -> Result<(), PlatformError> {
        if !self.base.get().is_null() {
            return Ok(());
        }
        // SAFETY: anonymous private mapping of fresh pages; no existing
        // memory is affected.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                ALT_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(PlatformError::OutOfMemory);
        }
        let stack = libc::stack_t { ss_sp: base, ss_flags: 0, ss_size: ALT_STACK_SIZE };
        // SAFETY: `stack` describes the mapping just created, which lives
        // until this thread-local is dropped at thread exit.
        if unsafe { libc::sigaltstack(&raw const stack, ptr::null_mut()) } != 0 {
            // SAFETY: unmapping the mapping created above, never handed out.
            unsafe { libc::munmap(base, ALT_STACK_SIZE) };
            return Err(PlatformError::Refused);
        }
        self.base.set(base);
        Ok(())
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let base = self.base.get();
        if base.is_null() {
            return;
        }
        let disable = libc::stack_t { ss_sp: ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
        // SAFETY: turning the alternate stack off before unmapping it; the
        // thread is exiting and runs no more wasm.
        unsafe {
            libc::sigaltstack(&raw const disable, ptr::null_mut());
        }
        // SAFETY: the mapping was created by `ensure` and is no longer the
        // signal stack.
        unsafe {
            libc::munmap(base, ALT_STACK_SIZE);
        }
    }
}

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

static INSTALL: Once = Once::new();
static mut PREVIOUS: [Option<libc::sigaction>; 4] = [None; 4];

fn prot_bits(p: Protection) -> libc::c_int {
    match p {
        Protection::None => libc::PROT_NONE,
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
    }
}

/// Registers of a signal context: (pc, fp).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn context_regs(ctx: *mut libc::c_void) -> (usize, usize) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    let gregs = unsafe { &(*uc).uc_mcontext.gregs };
    let reg = |r: libc::c_int| usize::try_from(gregs[usize::try_from(r).unwrap_or(0)].cast_unsigned()).unwrap_or(0);
    (reg(libc::REG_RIP), reg(libc::REG_RBP))
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn redirect(ctx: *mut libc::c_void, pc: usize, arg0: usize) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid, writable ucontext_t; the values
    // written become the registers when the handler returns.
    let gregs = unsafe { &mut (*uc).uc_mcontext.gregs };
    gregs[libc::REG_RIP as usize] = (pc as u64).cast_signed();
    gregs[libc::REG_RDI as usize] = (arg0 as u64).cast_signed();
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
unsafe fn context_regs(ctx: *mut libc::c_void) -> (usize, usize) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    let mc = unsafe { &(*uc).uc_mcontext };
    (mc.pc as usize, mc.regs[29] as usize)
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
unsafe fn redirect(ctx: *mut libc::c_void, pc: usize, arg0: usize) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid, writable ucontext_t.
    let mc = unsafe { &mut (*uc).uc_mcontext };
    mc.pc = pc as u64;
    mc.regs[0] = arg0 as u64;
}

unsafe extern "C" fn on_signal(signo: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let activation = ACTIVATION.try_with(Cell::get).unwrap_or(ptr::null_mut());
    if !activation.is_null() {
        // SAFETY: called with the context the kernel gave this handler.
        let (pc, fp) = unsafe { context_regs(ctx) };
        let fault = Fault { pc, fp, activation };
        // SAFETY: `activation` is this thread's live activation (set by
        // the runtime around every entry into wasm).
        if let FaultAction::Resume { pc, arg0 } = unsafe { super::handle_fault(&fault) } {
            // SAFETY: as above; the resume routine restores the state saved
            // at wasm entry.
            unsafe { redirect(ctx, pc, arg0) };
            return;
        }
    }
    // Not ours: hand the signal to whoever had it before, or die with the
    // default action when the faulting instruction re-executes.
    let index = SIGNALS.iter().position(|s| *s == signo).unwrap_or(0);
    // SAFETY: PREVIOUS is written once inside INSTALL before any handler
    // can run and only read afterwards.
    #[expect(clippy::deref_addrof, reason = "a static mut is only reachable through a raw pointer (static_mut_refs)")]
    let previous = unsafe { (*(&raw const PREVIOUS))[index] };
    match previous {
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO,
                // so it has this signature.
                let f: unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { core::mem::transmute(prev.sa_sigaction) };
                // SAFETY: forwarding the original arguments.
                unsafe { f(signo, info, ctx) };
            } else {
                // SAFETY: a plain handler takes only the signal number.
                let f: unsafe extern "C" fn(libc::c_int) = unsafe { core::mem::transmute(prev.sa_sigaction) };
                // SAFETY: forwarding the signal number.
                unsafe { f(signo) };
            }
        }
        _ => {
            // SAFETY: resetting this signal to its default disposition.
            unsafe {
                let mut dfl: libc::sigaction = core::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signo, &raw const dfl, ptr::null_mut());
            }
        }
    }
}

fn install_handlers() -> Result<(), PlatformError> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        for (i, signo) in SIGNALS.iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid starting point; we fill
            // in the handler, flags and an empty mask.
            let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
            unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
            // SAFETY: zeroed storage for the previous action.
            let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
            // SAFETY: installing a handler with the SA_SIGINFO signature.
            if unsafe { libc::sigaction(*signo, &raw const action, &raw mut old) } != 0 {
                result = Err(PlatformError::Refused);
                return;
            }
            // SAFETY: only written here, inside `call_once`, before our
            // handler can observe it for this signal... the handler reads
            // slot `i` only after this store for signal `i` completes.
            #[expect(clippy::deref_addrof, reason = "a static mut is only reachable through a raw pointer (static_mut_refs)")]
            unsafe { (*(&raw mut PREVIOUS))[i] = Some(old) };
        }
    });
    result
}

// === memory images ===

/// A memory image in an anonymous memory file (Linux `memfd`), mapped
/// `MAP_PRIVATE` into each memory that starts with it: pages are shared
/// until written, and a write copies only the page it touches.
#[derive(Debug)]
struct ImageFile {
    fd: libc::c_int,
}

impl Drop for ImageFile {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; existing mappings stay valid
        // after it is closed.
        unsafe { libc::close(self.fd) };
    }
}

impl ImageFile {
    /// A file holding `bytes`; pages that are all zero are left as holes.
    #[cfg(target_os = "linux")]
    fn new(bytes: &[u8], page: usize) -> Option<ImageFile> {
        // SAFETY: a NUL-terminated name; the flags are valid.
        let fd = unsafe { libc::memfd_create(c"hypha-wasm-image".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        let file = ImageFile { fd };
        let len = libc::off_t::try_from(bytes.len()).ok()?;
        // SAFETY: `fd` is our fresh memfd.
        if unsafe { libc::ftruncate(fd, len) } != 0 {
            return None;
        }
        for (i, chunk) in bytes.chunks(page).enumerate() {
            if chunk.iter().all(|b| *b == 0) {
                continue;
            }
            let offset = libc::off_t::try_from(i * page).ok()?;
            let mut done = 0;
            while done < chunk.len() {
                let at = offset.checked_add(libc::off_t::try_from(done).ok()?)?;
                // SAFETY: writes from a live slice into our memfd.
                let n = unsafe { libc::pwrite(fd, chunk[done..].as_ptr().cast(), chunk.len() - done, at) };
                done += usize::try_from(n).ok().filter(|n| *n > 0)?;
            }
        }
        Some(file)
    }

    #[cfg(not(target_os = "linux"))]
    fn new(_bytes: &[u8], _page: usize) -> Option<ImageFile> {
        None
    }
}

// SAFETY: mmap PROT_NONE reservations are private and zero-filled; code is
// published with mprotect(R|X) (x86-64 keeps instruction caches coherent;
// other architectures are not supported by this impl's fault handler);
// faults call `handle_fault` through `on_signal`; the activation slot is a
// thread-local.
unsafe impl Platform for HostPlatform {
    fn page_size(&self) -> usize {
        // SAFETY: sysconf has no memory-safety preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096)
    }

    fn reserve(&self, len: usize) -> Result<NonNull<u8>, PlatformError> {
        // SAFETY: a fresh anonymous mapping does not alias anything.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(PlatformError::OutOfMemory);
        }
        NonNull::new(p.cast::<u8>()).ok_or(PlatformError::OutOfMemory)
    }

    unsafe fn protect(&self, ptr: NonNull<u8>, len: usize, prot: Protection) -> Result<(), PlatformError> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the caller guarantees the range is inside one reservation.
        let r = unsafe { libc::mprotect(ptr.as_ptr().cast(), len, prot_bits(prot)) };
        if r == 0 { Ok(()) } else { Err(PlatformError::OutOfMemory) }
    }

    unsafe fn release(&self, ptr: NonNull<u8>, len: usize) {
        // SAFETY: the caller passes exactly one reservation no longer used.
        unsafe {
            libc::munmap(ptr.as_ptr().cast(), len);
        }
    }

    unsafe fn publish_code(&self, ptr: NonNull<u8>, len: usize) -> Result<(), PlatformError> {
        // SAFETY: forwarded caller contract; R|X never includes W.
        unsafe { self.protect(ptr, len, Protection::ReadExecute) }
    }

    fn init_traps(&self) -> Result<(), PlatformError> {
        if !cfg!(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))) {
            return Err(PlatformError::Unsupported);
        }
        install_handlers()?;
        ALT_STACK.with(AltStack::ensure)
    }

    fn current_activation(&self) -> *mut u8 {
        ACTIVATION.with(Cell::get)
    }

    fn enter_wasm(&self, activation: *mut u8) -> Result<*mut u8, PlatformError> {
        if !READY.with(Cell::get) {
            self.init_traps()?;
            READY.with(|r| r.set(true));
        }
        Ok(ACTIVATION.with(|a| a.replace(activation)))
    }

    fn set_current_activation(&self, activation: *mut u8) {
        ACTIVATION.with(|a| a.set(activation));
    }

    unsafe fn discard(&self, ptr: NonNull<u8>, len: usize) -> Result<(), PlatformError> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the caller guarantees a page-aligned range inside one of
        // our reservations with no references into it. MADV_DONTNEED on
        // private mappings drops the written pages: anonymous ones read as
        // zero again, file (image) ones as the file.
        let r = unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_DONTNEED) };
        if r == 0 { Ok(()) } else { Err(PlatformError::Refused) }
    }

    fn prepare_image(&self, bytes: &[u8]) -> Option<Box<dyn Any + Send + Sync>> {
        let file = ImageFile::new(bytes, self.page_size())?;
        Some(Box::new(file))
    }

    unsafe fn map_image(&self, dst: NonNull<u8>, image: &MemoryImage) -> Result<(), PlatformError> {
        let bytes = image.bytes();
        let Some(file) = image.prepared().and_then(|p| p.downcast_ref::<ImageFile>()) else {
            // SAFETY: the caller guarantees a committed, writable, unaliased range.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), bytes.len()) };
            return Ok(());
        };
        // SAFETY: replaces pages inside the caller's reservation (page
        // aligned, nothing references them) with a private mapping of our
        // image file; the reservation's munmap later removes it too.
        let p = unsafe {
            libc::mmap(
                dst.as_ptr().cast(),
                bytes.len(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.fd,
                0,
            )
        };
        if p == libc::MAP_FAILED { Err(PlatformError::OutOfMemory) } else { Ok(()) }
    }
}
