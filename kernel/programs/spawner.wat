;; hypha.spawn("/bin/empty") with inherited stdio, wait for it, and exit
;; with 10 + its exit code (0 -> 10); errors exit 100 + errno. (A built-in
;; program: the initrd's Rust programs take seconds to compile in a debug
;; kernel.)
(module
  (import "hypha" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "hypha" "wait" (func $wait (param i32 i32 i32 i32) (result i32)))
  (import "hypha" "getpid" (func $getpid (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "/bin/empty")
  (data (i32.const 16) "empty\00")
  ;; stdio fds 0 1 2 at 32
  (data (i32.const 32) "\00\00\00\00\01\00\00\00\02\00\00\00")
  (func (export "_start") (local $e i32)
    (local.set $e (call $spawn (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 6)
                               (i32.const 0) (i32.const 0) (i32.const 32) (i32.const 48)))
    (if (local.get $e) (then (call $exit (i32.add (i32.const 100) (local.get $e)))))
    (local.set $e (call $wait (i32.load (i32.const 48)) (i32.const 64) (i32.const 0) (i32.const 0)))
    (if (local.get $e) (then (call $exit (i32.add (i32.const 100) (local.get $e)))))
    ;; kind must be 0 (exited)
    (if (i32.load (i32.const 64)) (then (call $exit (i32.const 99))))
    (call $exit (i32.add (i32.const 10) (i32.load (i32.const 68))))))
