;; Spawn to first instruction: the first thing `_start` does is
;; hypha_bench.mark(0, 0).
(module
  (import "hypha_bench" "mark" (func $mark (param i32 i32)))
  (func (export "_start") (call $mark (i32.const 0) (i32.const 0))))
