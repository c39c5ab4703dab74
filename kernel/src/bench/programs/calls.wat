;; The host-call measurement. Each round runs three loops of $n
;; iterations with identical bookkeeping: one calls hypha.getpid, one a
;; wasm function through call_indirect, one calls nothing. hypha_bench.mark
;; brackets them: tags 0, 1, 2, 3 (argument: $n), 7 rounds. Exits 0 if
;; every call returned what it should.
(module
  (import "hypha" "getpid" (func $getpid (result i32)))
  (import "hypha_bench" "mark" (func $mark (param i32 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $r (func (result i32)))
  (table 1 1 funcref)
  (elem (i32.const 0) $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "_start") (local $n i32) (local $round i32) (local $i i32) (local $bad i32) (local $pid i32) (local $seven i32) (local $sink i32)
    (local.set $n (i32.const 10000))
    (local.set $pid (call $getpid))
    (local.set $seven (i32.const 7))
    (loop $rounds
      (call $mark (i32.const 0) (local.get $n))
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $bad (i32.or (local.get $bad) (i32.ne (call $getpid) (local.get $pid))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (call $mark (i32.const 1) (local.get $n))
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $bad (i32.or (local.get $bad) (i32.ne (call_indirect (type $r) (i32.const 0)) (local.get $seven))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (call $mark (i32.const 2) (local.get $n))
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $sink (i32.or (local.get $sink) (i32.ne (local.get $pid) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (call $mark (i32.const 3) (local.get $n))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $round) (i32.const 7))))
    ;; Tag 4 keeps the empty loop's result alive (not dead code).
    (call $mark (i32.const 4) (local.get $sink))
    (call $exit (local.get $bad))))
