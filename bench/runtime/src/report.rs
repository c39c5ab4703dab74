//! Result rows, the printed table and `target/bench/runtime.json`.

use std::path::Path;

use serde_json::json;

/// One measurement of ours against the peer's (lower is better).
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// Unit of `value` and `peer_value`.
    pub unit: &'static str,
    /// Ours.
    pub value: f64,
    /// The peer's name.
    pub peer: &'static str,
    /// The peer's.
    pub peer_value: f64,
}

impl Row {
    /// `value / peer_value`.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.value / self.peer_value
    }
}

/// Print the table.
pub fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:>12}  {:>12}  {:>6}  {:>7}", "name", "hypha", "wasmtime", "unit", "ratio");
    for r in rows {
        println!("{:width$}  {:>12.4}  {:>12.4}  {:>6}  {:>7.3}", r.name, r.value, r.peer_value, r.unit, r.ratio());
    }
}

/// Write `rows` as a JSON list to `path` (creating its directory).
///
/// # Errors
/// I/O errors.
pub fn write_json(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let list: Vec<_> = rows
        .iter()
        .map(|r| json!({"name": r.name, "unit": r.unit, "value": r.value, "peer": r.peer, "peer_value": r.peer_value, "ratio": r.ratio()}))
        .collect();
    let text = serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// Geometric mean of positive values.
#[must_use]
pub fn geomean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let n = f64::from(u32::try_from(values.len()).unwrap_or(u32::MAX));
    (values.iter().map(|v| v.ln()).sum::<f64>() / n).exp()
}

/// Median (upper median for even counts) of durations in milliseconds.
#[must_use]
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
