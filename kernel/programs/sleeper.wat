;; hypha.sleep(20 ms) then exit 0 (errno otherwise).
(module
  (import "hypha" "sleep" (func $sleep (param i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (func (export "_start") (call $exit (call $sleep (i64.const 20000000)))))
