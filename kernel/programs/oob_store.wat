;; Stores past the end of its one-page memory.
(module
  (memory (export "memory") 1 1)
  (func (export "_start") (i32.store (i32.const 65535) (i32.const 1))))
