;; The same loop as hostcalls.wat, calling a wasm function through
;; call_indirect instead of the host (the baseline of the measurement).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $r (func (result i32)))
  (memory (export "memory") 1 1)
  (table 1 1 funcref)
  (elem (i32.const 0) $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "_start") (local $i i32) (local $first i32) (local $bad i32)
    (local.set $first (call_indirect (type $r) (i32.const 0)))
    (loop $l
      (local.set $bad (i32.or (local.get $bad) (i32.ne (call_indirect (type $r) (i32.const 0)) (local.get $first))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 200000))))
    (call $exit (local.get $bad))))
