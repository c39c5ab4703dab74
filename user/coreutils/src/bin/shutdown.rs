//! `shutdown [-r]`: powers the machine off (`-r`: reboots).
use hypha_abi::ShutdownMode;

fn main() {
    coreutils::run("shutdown", |args| {
        let p = coreutils::args::parse(args, "r", "").map_err(|e| format!("{e}\nusage: shutdown [-r]"))?;
        let mode = if p.has('r') { ShutdownMode::Reboot } else { ShutdownMode::PowerOff };
        hypha_abi::shutdown(mode).map_err(|e| e.to_string())?;
        Ok(0)
    })
}
