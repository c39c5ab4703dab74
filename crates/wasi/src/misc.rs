//! Arguments, environment, clocks, randomness, `poll_oneoff`, process and
//! scheduling syscalls.

use alloc::vec::Vec;

use crate::backend::{FileSystem, Readiness};
use crate::ctx::{Handle, WasiCtx};
use crate::mem::{GuestMem, to_u32};
use crate::types::{
    ClockId, EVENT_SIZE, Errno, Event, Eventtype, SUBSCRIPTION_SIZE, Subscription,
    SubscriptionKind, eventrwflags, rights, subclockflags,
};

/// Longest single sleep while `poll_oneoff` waits on fds, so stream
/// readiness is re-checked this often (1 ms).
pub const POLL_SLICE_NS: u64 = 1_000_000;

/// Writes a list of NUL-terminated strings: pointers at `ptrs`, bytes at `buf`.
fn write_strings(
    mem: &mut GuestMem<'_>,
    list: &[alloc::string::String],
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    let mut cursor = buf;
    for (i, s) in list.iter().enumerate() {
        let slot = ptrs
            .checked_add(to_u32(i)?.checked_mul(4).ok_or(Errno::Fault)?)
            .ok_or(Errno::Fault)?;
        mem.write_u32(slot, cursor)?;
        mem.write_bytes(cursor, s.as_bytes())?;
        let end = cursor.checked_add(to_u32(s.len())?).ok_or(Errno::Fault)?;
        mem.write_u8(end, 0)?;
        cursor = end.checked_add(1).ok_or(Errno::Fault)?;
    }
    Ok(())
}

fn write_sizes(
    mem: &mut GuestMem<'_>,
    list: &[alloc::string::String],
    count: u32,
    size: u32,
) -> Result<(), Errno> {
    let bytes: usize = list.iter().map(|s| s.len() + 1).sum();
    mem.range(count, 4)?;
    mem.range(size, 4)?;
    mem.write_u32(count, to_u32(list.len())?)?;
    mem.write_u32(size, to_u32(bytes)?)
}

/// Outcome of one [`WasiCtx::poll_oneoff_step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStep {
    /// Events were written; the call is complete.
    Done,
    /// Nothing fired; try again after about this many nanoseconds
    /// (`u64::MAX`: only fd readiness can end the wait, with no clock).
    Wait(u64),
}

impl<F: FileSystem> WasiCtx<F> {
    /// `args_get`.
    pub fn args_get(&self, mem: &mut GuestMem<'_>, argv: u32, buf: u32) -> Result<(), Errno> {
        write_strings(mem, &self.args, argv, buf)
    }

    /// `args_sizes_get`.
    pub fn args_sizes_get(
        &self,
        mem: &mut GuestMem<'_>,
        count: u32,
        size: u32,
    ) -> Result<(), Errno> {
        write_sizes(mem, &self.args, count, size)
    }

    /// `environ_get`.
    pub fn environ_get(&self, mem: &mut GuestMem<'_>, env: u32, buf: u32) -> Result<(), Errno> {
        write_strings(mem, &self.env, env, buf)
    }

    /// `environ_sizes_get`.
    pub fn environ_sizes_get(
        &self,
        mem: &mut GuestMem<'_>,
        count: u32,
        size: u32,
    ) -> Result<(), Errno> {
        write_sizes(mem, &self.env, count, size)
    }

    /// `clock_res_get`.
    pub fn clock_res_get(&self, mem: &mut GuestMem<'_>, id: u32, out: u32) -> Result<(), Errno> {
        let res = self.clock.resolution(ClockId::from_raw(id)?)?;
        mem.write_u64(out, res)
    }

    /// `clock_time_get` (the precision hint is accepted and not needed).
    pub fn clock_time_get(
        &self,
        mem: &mut GuestMem<'_>,
        id: u32,
        _precision: u64,
        out: u32,
    ) -> Result<(), Errno> {
        let now = self.clock.now(ClockId::from_raw(id)?)?;
        mem.write_u64(out, now)
    }

    /// `random_get`.
    pub fn random_get(&mut self, mem: &mut GuestMem<'_>, buf: u32, len: u32) -> Result<(), Errno> {
        let dst = mem.slice_mut(buf, len)?;
        self.random.fill(dst)
    }

    /// `sched_yield`: nothing to give up inside this library; the glue may
    /// yield the guest's fiber after it returns.
    pub fn sched_yield(&mut self) -> Result<(), Errno> {
        Ok(())
    }

    /// `proc_raise`: signals are not supported.
    pub fn proc_raise(&mut self, _sig: u8) -> Result<(), Errno> {
        Err(Errno::Notsup)
    }

    fn fd_readiness(&self, fd: u32, write: bool) -> Result<Readiness, Errno> {
        let e = self.entry(fd)?;
        e.require(rights::POLL_FD_READWRITE)?;
        match (&*e.handle.lock(), write) {
            (Handle::File { file, offset, .. }, false) => {
                let size = self.fs.file_stat(file)?.size;
                Ok(Readiness::Ready(size.saturating_sub(*offset)))
            }
            (Handle::File { .. }, true) => Ok(Readiness::Ready(0)),
            (Handle::Input(s), false) => Ok(s.readiness()),
            (Handle::Output(s), true) => Ok(s.readiness()),
            (Handle::Dir { .. }, _) => Err(Errno::Isdir),
            _ => Err(Errno::Badf),
        }
    }

    /// `poll_oneoff`: waits (through [`crate::Clock::sleep`]) until at
    /// least one subscription fires, then writes one event per fired
    /// subscription.
    pub fn poll_oneoff(
        &mut self,
        mem: &mut GuestMem<'_>,
        subs_ptr: u32,
        events_ptr: u32,
        nsubs: u32,
        out: u32,
    ) -> Result<(), Errno> {
        let start = self.clock.now(ClockId::Monotonic)?;
        loop {
            match self.poll_oneoff_step(mem, subs_ptr, events_ptr, nsubs, out, start)? {
                PollStep::Done => return Ok(()),
                PollStep::Wait(ns) => self.clock.sleep(ns),
            }
        }
    }

    /// One non-blocking pass of `poll_oneoff`, for glue that waits
    /// asynchronously: relative clock timeouts count from `start` (the
    /// monotonic time of the guest's call; pass the same value on every
    /// retry). Either writes the events (`Done`) or says how long to wait
    /// before trying again (`Wait`); nothing is written to the guest then.
    pub fn poll_oneoff_step(
        &mut self,
        mem: &mut GuestMem<'_>,
        subs_ptr: u32,
        events_ptr: u32,
        nsubs: u32,
        out: u32,
        start: u64,
    ) -> Result<PollStep, Errno> {
        if nsubs == 0 {
            return Err(Errno::Inval);
        }
        let sub_size = to_u32(SUBSCRIPTION_SIZE)?;
        let ev_size = to_u32(EVENT_SIZE)?;
        mem.range(subs_ptr, nsubs.checked_mul(sub_size).ok_or(Errno::Fault)?)?;
        mem.range(events_ptr, nsubs.checked_mul(ev_size).ok_or(Errno::Fault)?)?;
        mem.range(out, 4)?;
        let now = self.clock.now(ClockId::Monotonic)?;
        let mut events = Vec::new();
        let mut next_deadline: Option<u64> = None;
        let mut waiting_on_fds = false;
        for i in 0..nsubs {
            // In range: the whole array was checked above.
            let raw = mem.read_array::<SUBSCRIPTION_SIZE>(subs_ptr + i * sub_size)?;
            let s = Subscription::decode(&raw)?;
            match s.kind {
                SubscriptionKind::Clock {
                    id, timeout, flags, ..
                } => match self.clock_deadline(id, timeout, flags, start, now) {
                    Ok(t) if now >= t => events.push(Event {
                        userdata: s.userdata,
                        error: Errno::Success,
                        kind: Eventtype::Clock,
                        nbytes: 0,
                        flags: 0,
                    }),
                    Ok(t) => next_deadline = Some(next_deadline.map_or(t, |d| d.min(t))),
                    Err(e) => events.push(error_event(&s, Eventtype::Clock, e)),
                },
                SubscriptionKind::FdRead(fd) | SubscriptionKind::FdWrite(fd) => {
                    let write = matches!(s.kind, SubscriptionKind::FdWrite(_));
                    let kind = if write {
                        Eventtype::FdWrite
                    } else {
                        Eventtype::FdRead
                    };
                    match self.fd_readiness(fd, write) {
                        Ok(Readiness::Ready(n)) => {
                            events.push(Event {
                                userdata: s.userdata,
                                error: Errno::Success,
                                kind,
                                nbytes: n,
                                flags: 0,
                            });
                        }
                        Ok(Readiness::Hangup) => events.push(Event {
                            userdata: s.userdata,
                            error: Errno::Success,
                            kind,
                            nbytes: 0,
                            flags: eventrwflags::FD_READWRITE_HANGUP,
                        }),
                        Ok(Readiness::NotReady) => waiting_on_fds = true,
                        Err(e) => events.push(error_event(&s, kind, e)),
                    }
                }
            }
        }
        if !events.is_empty() {
            for (i, ev) in events.iter().enumerate() {
                let at = events_ptr + to_u32(i)? * ev_size; // checked above
                mem.write_bytes(at, &ev.encode())?;
            }
            mem.write_u32(out, to_u32(events.len())?)?;
            return Ok(PollStep::Done);
        }
        let mut wait = next_deadline.map_or(u64::MAX, |d| d.saturating_sub(now));
        if waiting_on_fds {
            wait = wait.min(POLL_SLICE_NS);
        }
        Ok(PollStep::Wait(wait))
    }

    /// The monotonic time at which a clock subscription fires.
    /// Relative timeouts count from `start`; an absolute realtime is
    /// converted with the clocks read at `now`.
    fn clock_deadline(
        &self,
        id: u32,
        timeout: u64,
        flags: u16,
        start: u64,
        now: u64,
    ) -> Result<u64, Errno> {
        let id = ClockId::from_raw(id)?;
        let abs = flags & subclockflags::ABSTIME != 0;
        match (id, abs) {
            (ClockId::Monotonic, true) => Ok(timeout),
            (ClockId::Realtime, true) => {
                let now_real = self.clock.now(ClockId::Realtime)?;
                Ok(now.saturating_add(timeout.saturating_sub(now_real)))
            }
            (ClockId::Monotonic | ClockId::Realtime, false) => Ok(start.saturating_add(timeout)),
            _ => Err(Errno::Notsup),
        }
    }
}

fn error_event(s: &Subscription, kind: Eventtype, error: Errno) -> Event {
    Event {
        userdata: s.userdata,
        error,
        kind,
        nbytes: 0,
        flags: 0,
    }
}
