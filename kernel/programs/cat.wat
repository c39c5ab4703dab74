;; Copies stdin to stdout until end of input; exits with the byte count
;; (mod 256). A read error exits 255.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (func (export "_start") (local $n i32) (local $total i32)
    (loop $l
      ;; iovec at 0: buffer 64, length 256; nread at 8
      (i32.store (i32.const 0) (i32.const 64))
      (i32.store (i32.const 4) (i32.const 256))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (call $exit (i32.const 255))))
      (local.set $n (i32.load (i32.const 8)))
      (if (local.get $n)
        (then
          (local.set $total (i32.add (local.get $total) (local.get $n)))
          (i32.store (i32.const 16) (i32.const 64))
          (i32.store (i32.const 20) (local.get $n))
          (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
          (br $l))))
    (call $exit (i32.and (local.get $total) (i32.const 255)))))
