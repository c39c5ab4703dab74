;; Calls hypha.getpid 200,000 times (the host-call cost measurement);
;; exits 0 if every call returned the same pid.
(module
  (import "hypha" "getpid" (func $getpid (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (func (export "_start") (local $i i32) (local $first i32) (local $bad i32)
    (local.set $first (call $getpid))
    (loop $l
      (local.set $bad (i32.or (local.get $bad) (i32.ne (call $getpid) (local.get $first))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 200000))))
    (call $exit (local.get $bad))))
