//! SIMD (v128) operators.

use wasmparser::Operator;

use super::translate::FuncTranslator;
use crate::error::Result;

impl FuncTranslator<'_, '_> {
    pub(super) fn simd_op(&mut self, _op: &Operator<'_>) -> Result<bool> {
        Ok(false)
    }
}
