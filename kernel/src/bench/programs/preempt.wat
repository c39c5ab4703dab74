;; Preemption latency: yields once (so its fiber is running and it waits
;; in the run queue behind a spinning process), then, once the spinner's
;; slice ends, marks (tag 20) and exits.
(module
  (import "hypha" "yield" (func $yield (result i32)))
  (import "hypha_bench" "mark" (func $mark (param i32 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func (export "_start") (local $bad i32)
    (local.set $bad (call $yield))
    (call $mark (i32.const 20) (i32.const 0))
    (call $exit (local.get $bad))))
