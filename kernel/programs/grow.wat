;; memory.grow by one page until refused, touching each new page; then
;; exits with the number of pages it ended up with (it keeps running
;; after the refusal).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (block $done
      (loop $l
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)) (i32.const 7))
        (br $l)))
    (call $exit (memory.size))))
