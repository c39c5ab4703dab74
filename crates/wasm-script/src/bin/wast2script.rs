//! `wast2script OUT [FILTER]`: converts the spec suite the host runner
//! runs (every `core-wasm2/*.wast` plus the Wasm 3.0 files listed in
//! `crates/wasm-spec/suites.toml`, minus `skip.toml`) into one script file
//! for the in-kernel runner. Prints `wast2script: N files, M commands,
//! B bytes`. The suite root is `$HYPHA_WASM_TESTSUITE` or
//! `../shared/wasm-testsuite` beside the checkout.

use std::process::ExitCode;

use hypha_wasm_script::suites::{core3_files, skip_list, suite_root};
use hypha_wasm_script::{Script, convert::convert_file};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: wast2script OUT [FILTER]");
        return ExitCode::from(2);
    };
    let filter = args.next();
    let root = suite_root();
    let mut wasm2: Vec<String> = match std::fs::read_dir(root.join("core-wasm2")) {
        Ok(dir) => dir
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.ends_with(".wast"))
            .collect(),
        Err(e) => {
            eprintln!("wast2script: {}: {e}", root.join("core-wasm2").display());
            return ExitCode::from(2);
        }
    };
    wasm2.sort();
    let skip: Vec<String> = skip_list().into_iter().map(|(file, _)| file).collect();
    let mut script = Script::default();
    for (suite, dir, files) in [("core-wasm2", "core-wasm2", wasm2), ("core-3.0", "core", core3_files())] {
        for file in files {
            let name = format!("{dir}/{file}");
            if filter.as_deref().is_some_and(|f| !name.contains(f)) || skip.contains(&name) {
                continue;
            }
            let src = match std::fs::read_to_string(root.join(dir).join(&file)) {
                Ok(src) => src,
                Err(e) => {
                    eprintln!("wast2script: {name}: {e}");
                    return ExitCode::from(2);
                }
            };
            script.files.push(convert_file(suite, &name, &src));
        }
    }
    let commands: usize = script.files.iter().map(|f| f.commands.len()).sum();
    let bytes = script.encode();
    if let Err(e) = std::fs::write(&out, &bytes) {
        eprintln!("wast2script: writing {out}: {e}");
        return ExitCode::from(2);
    }
    println!("wast2script: {} files, {commands} commands, {} bytes", script.files.len(), bytes.len());
    ExitCode::SUCCESS
}
