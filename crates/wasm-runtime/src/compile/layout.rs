//! Where a function starts relative to the CPU's fetch windows, chosen from
//! its loops.
//!
//! Functions start at the ISA's preferred alignment (32 bytes on x86-64).
//! That fixes where the entry falls, but a hot loop deeper in the function
//! lands wherever the code before it puts it: a loop block that straddles
//! a 32-byte fetch window costs an extra fetch on every iteration, and two
//! compilations whose code before a loop differs by a few bytes (a longer
//! prologue, a different call sequence) can run the same loop at visibly
//! different speeds. Cranelift does not align blocks, so we place the
//! function instead: [`best_phase`] picks the offset of the function's
//! start within a window (a "phase", a multiple of the function's required
//! alignment) that minimises the windows touched by the blocks of its
//! loops, inner loops weighted more. A function without loops keeps phase
//! 0, i.e. the preferred alignment.
//!
//! The input is Cranelift's machine-code CFG (`machine_code_cfg_info`):
//! block start offsets and edges between them. Loops are natural loops:
//! an edge `u -> h` is a back edge when `h` dominates `u`, i.e. `u` cannot
//! be reached from the entry without passing `h` (wasm control flow is
//! reducible, so every cycle has such an edge).
//!
//! This is a static model, not a profile: it does not know which loop is
//! hot, only how deep each block is nested.

use alloc::vec;
use alloc::vec::Vec;

/// The fetch window size (bytes): a block that straddles one costs an
/// extra fetch.
const WINDOW: u32 = 32;

/// The cache line / op-cache line size (bytes); phases are chosen modulo
/// this. Measured on shootout-sieve (AMD Zen 4 host): its inner loop in
/// one 32-byte window ran at 1.05x Wasmtime's time, straddling a 32-byte
/// window at 1.20x, straddling a 64-byte line at 1.55x. Straddling a line
/// therefore counts on top of straddling a window.
pub(crate) const LINE: u32 = 64;

/// Weight of a block per loop level it is nested in (a block in a loop
/// nested `d` deep counts `DEPTH_WEIGHT^d`).
const DEPTH_WEIGHT: u64 = 8;

/// Nesting beyond this adds no weight (keeps the sum far from overflow).
const MAX_DEPTH: u32 = 8;

/// The phase (start offset modulo [`LINE`], a multiple of `step`) for a
/// function of `len` bytes whose blocks start at `starts` (ascending) with
/// control-flow edges `edges` (block start offsets; the first block is the
/// entry). `None` when the function has no loops (it keeps the ISA's
/// preferred alignment).
pub(crate) fn best_phase(len: u32, starts: &[u32], edges: &[(u32, u32)], step: u32) -> Option<u32> {
    let step = step.max(1);
    if step >= LINE || starts.is_empty() {
        return None;
    }
    let depth = loop_depths(starts, edges);
    // (start, end, weight) of every non-empty block inside a loop.
    let blocks: Vec<(u32, u32, u64)> = starts
        .iter()
        .enumerate()
        .filter(|&(i, _)| depth[i] > 0)
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(len), DEPTH_WEIGHT.pow(depth[i].min(MAX_DEPTH))))
        .filter(|(s, e, _)| e > s)
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let spans = |s: u32, e: u32, unit: u32| u64::from((e - 1) / unit - s / unit + 1);
    let cost = |phase: u32| -> u64 {
        blocks.iter().map(|&(s, e, w)| w * (spans(s + phase, e + phase, WINDOW) + spans(s + phase, e + phase, LINE))).sum()
    };
    let mut best = (cost(0), 0);
    let mut phase = step;
    while phase < LINE {
        let c = cost(phase);
        if c < best.0 {
            best = (c, phase);
        }
        phase += step;
    }
    Some(best.1)
}

/// Work allowed for finding natural loops (blocks times back-edge
/// candidates) before [`loop_depths`] falls back to layout intervals:
/// keeps huge functions with many loops from costing more here than the
/// rest of their compilation.
const LOOP_WORK_BUDGET: usize = 1 << 20;

/// How many natural loops each block (by index in `starts`) belongs to.
fn loop_depths(starts: &[u32], edges: &[(u32, u32)]) -> Vec<u32> {
    let n = starts.len();
    let index = |off: u32| starts.binary_search(&off).ok();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut candidates = Vec::new();
    for &(from, to) in edges {
        let (Some(u), Some(h)) = (index(from), index(to)) else { continue };
        preds[h].push(u);
        // In Cranelift's block order a back edge goes to an earlier (or
        // the same) block; whether it is one is checked below.
        if h <= u {
            candidates.push((u, h));
        }
    }
    if candidates.len().saturating_mul(n) > LOOP_WORK_BUDGET {
        return interval_depths(n, &candidates);
    }
    // Per header, the union of the bodies of its back edges.
    let mut loop_of_header: Vec<Option<usize>> = vec![None; n];
    let mut loops: Vec<Vec<bool>> = Vec::new();
    let mut stack = Vec::new();
    for (u, h) in candidates {
        // Blocks reaching `u` backwards without passing `h`; reaching the
        // entry means `h` does not dominate `u` (not a loop edge).
        let mut body = vec![false; n];
        body[h] = true;
        let mut natural = true;
        if !body[u] {
            body[u] = true;
            stack.clear();
            stack.push(u);
        }
        while let Some(b) = stack.pop() {
            if b == 0 {
                natural = false;
                break;
            }
            for &p in &preds[b] {
                if !body[p] {
                    body[p] = true;
                    stack.push(p);
                }
            }
        }
        if !natural {
            continue;
        }
        match loop_of_header[h] {
            Some(l) => loops[l].iter_mut().zip(&body).for_each(|(m, b)| *m |= *b),
            None => {
                loop_of_header[h] = Some(loops.len());
                loops.push(body);
            }
        }
    }
    let mut depth = vec![0u32; n];
    for body in &loops {
        for (d, &inside) in depth.iter_mut().zip(body) {
            *d += u32::from(inside);
        }
    }
    depth
}

/// Loop depths approximated by layout: every backward edge `u -> h`
/// counts as a loop over blocks `h..=u` (exact for loops laid out
/// contiguously, which Cranelift's order does except for cold blocks).
fn interval_depths(n: usize, candidates: &[(usize, usize)]) -> Vec<u32> {
    // One loop per header, up to its farthest back edge.
    let mut farthest: Vec<Option<usize>> = vec![None; n];
    for &(u, h) in candidates {
        farthest[h] = Some(farthest[h].map_or(u, |f| f.max(u)));
    }
    let mut delta = vec![0i64; n + 1];
    for (h, u) in farthest.iter().enumerate().filter_map(|(h, u)| Some((h, (*u)?))) {
        delta[h] += 1;
        delta[u + 1] -= 1;
    }
    let mut depth = Vec::with_capacity(n);
    let mut d = 0i64;
    for x in &delta[..n] {
        d += x;
        depth.push(u32::try_from(d).unwrap_or(0));
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_loops_keeps_phase_zero() {
        // entry -> a -> b, straight line.
        assert_eq!(best_phase(60, &[0, 20, 40], &[(0, 20), (20, 40)], 1), None);
    }

    #[test]
    fn single_block_loop_is_fitted_into_one_window() {
        // entry 0..10, loop block 10..40 (30 bytes, a self edge), exit 40..50.
        // At phase 0 the loop touches windows 0 and 1; a phase that starts
        // it at a window boundary (22) or anywhere up to 24 fits it in one.
        let phase = best_phase(50, &[0, 10, 40], &[(0, 10), (10, 10), (10, 40)], 1).unwrap();
        let start = 10 + phase;
        assert!(start / WINDOW == (start + 29) / WINDOW, "loop at {start} still straddles (phase {phase})");
    }

    #[test]
    fn phase_respects_the_required_alignment() {
        let phase = best_phase(50, &[0, 10, 40], &[(0, 10), (10, 10), (10, 40)], 16).unwrap();
        assert_eq!(phase % 16, 0);
        // 0 and 16 put the loop across a window (10..40, 26..56), 32 and
        // 48 across a window and a line (42..72, 58..88): 0 is the first
        // of the best.
        assert_eq!(phase, 0);
    }

    #[test]
    fn inner_loops_weigh_more_than_outer_ones() {
        // entry 0..8; outer header 8..30; inner loop block 30..58 (28
        // bytes, self edge); outer latch 58..64 back to 8; exit 64..70.
        let starts = [0, 8, 30, 58, 64];
        let edges = [(0, 8), (8, 30), (30, 30), (30, 58), (58, 8), (58, 64)];
        assert_eq!(loop_depths(&starts, &edges), vec![0, 1, 2, 1, 0]);
        let phase = best_phase(70, &starts, &edges, 1).unwrap();
        let inner = 30 + phase;
        assert!(inner / WINDOW == (inner + 27) / WINDOW, "inner loop at {inner} straddles (phase {phase})");
    }

    #[test]
    fn interval_fallback_matches_natural_loops_on_contiguous_layouts() {
        let starts = [0, 8, 30, 58, 64];
        let edges = [(0, 8), (8, 30), (30, 30), (30, 58), (58, 8), (58, 64)];
        assert_eq!(interval_depths(5, &[(2, 2), (3, 1)]), loop_depths(&starts, &edges));
    }

    #[test]
    fn edge_into_the_middle_of_a_cycle_from_later_code_is_not_a_loop() {
        // 0 -> 10 -> 20 -> 30, plus 0 -> 30 and 30 -> 10: the edge 30 -> 10
        // goes backwards, but 10 does not dominate 30 (reachable via 0 -> 30).
        let starts = [0, 10, 20, 30];
        let edges = [(0, 10), (10, 20), (20, 30), (0, 30), (30, 10)];
        assert_eq!(loop_depths(&starts, &edges), vec![0, 0, 0, 0]);
    }
}
