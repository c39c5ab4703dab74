;; Spins forever without host calls: only preemption and kill stop it.
(module
  (memory (export "memory") 1 1)
  (func (export "_start") (loop $l (br $l))))
