;; Calls hypha.yield 1000 times, then exits 0 if every yield returned
;; success (the OR of the results otherwise).
(module
  (import "hypha" "yield" (func $yield (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (func (export "_start") (local $i i32) (local $bad i32)
    (loop $l
      (local.set $bad (i32.or (local.get $bad) (call $yield)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (call $exit (local.get $bad))))
