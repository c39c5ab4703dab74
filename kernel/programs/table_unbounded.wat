;; A table without a declared maximum: it could grow past the element quota.
(module (table 1 funcref) (func (export "_start")))
