;; Encodes fine but fails validation: returns an i64 where i32 is declared.
(module (func (export "_start") (result i32) (i64.const 1)))
