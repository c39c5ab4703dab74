;; Process switch on yield: 16 warm-up hypha.yield calls, mark(10, $n),
;; $n yields, mark(11, $n), 16 more (so a partner started a moment later
;; still alternates with this one until its own mark 11). Exits 0 if every
;; yield succeeded.
(module
  (import "hypha" "yield" (func $yield (result i32)))
  (import "hypha_bench" "mark" (func $mark (param i32 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func $yields (param $count i32) (result i32) (local $i i32) (local $bad i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $bad (i32.or (local.get $bad) (call $yield)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $bad))
  (func (export "_start") (local $n i32) (local $bad i32)
    (local.set $n (i32.const 2000))
    (local.set $bad (call $yields (i32.const 16)))
    (call $mark (i32.const 10) (local.get $n))
    (local.set $bad (i32.or (local.get $bad) (call $yields (local.get $n))))
    (call $mark (i32.const 11) (local.get $n))
    (local.set $bad (i32.or (local.get $bad) (call $yields (i32.const 16))))
    (call $exit (local.get $bad))))
