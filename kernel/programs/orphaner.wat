;; Spawns /bin/sleeper (20 ms) and exits at once without waiting: the
;; child becomes an orphan, which the kernel reaps when it ends. Exits
;; with 100 + errno if the spawn fails.
(module
  (import "hypha" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "/bin/sleeper")
  (data (i32.const 16) "sleeper\00")
  (data (i32.const 32) "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff")
  (func (export "_start") (local $e i32)
    (local.set $e (call $spawn (i32.const 0) (i32.const 12) (i32.const 16) (i32.const 8)
                               (i32.const 0) (i32.const 0) (i32.const 32) (i32.const 48)))
    (call $exit (select (i32.add (i32.const 100) (local.get $e)) (i32.const 0) (local.get $e)))))
