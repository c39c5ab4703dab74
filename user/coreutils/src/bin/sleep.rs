//! `sleep SECONDS`: waits (fractions allowed: `sleep 0.5`).
use std::time::Duration;

fn main() {
    coreutils::run("sleep", |args| {
        let [secs] = args else {
            return Err("usage: sleep SECONDS".into());
        };
        let d = secs
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("invalid time interval: {secs}"))?;
        hypha_abi::sleep(d).map_err(|e| e.to_string())?;
        Ok(0)
    })
}
