;; call_indirect through a table entry of another signature.
(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (memory (export "memory") 1 1)
  (table 1 1 funcref)
  (elem (i32.const 0) $nothing)
  (func $nothing)
  (func (export "_start") (drop (call_indirect (type $ii) (i32.const 5) (i32.const 0)))))
