;; A well-behaved compute job: sums i*i mod 2^32 for i in 0..600_000 with
;; no host calls, then exits 42 if the sum is right (1 otherwise).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (func (export "_start")
    (local $i i32) (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (i32.mul (local.get $i) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 600000))))
    ;; sum_{i<n} i^2 = (n-1)n(2n-1)/6; n = 600,000 is a multiple of 6,
    ;; so (n-1)n/6 is exact and the product fits in 64 bits.
    (call $exit (select (i32.const 42) (i32.const 1)
      (i32.eq (local.get $sum)
        (i32.wrap_i64 (i64.mul (i64.div_u (i64.mul (i64.const 599999) (i64.const 600000)) (i64.const 6)) (i64.const 1199999))))))))
