//! Finds `qemu-system-riscv64` (version 8 or newer), installing it when the
//! machine allows, and says exactly what to do when it does not.
//!
//! On Debian 12 the distribution's QEMU 7.2 conflicts with newer
//! `qemu-utils`, so QEMU comes from `bookworm-backports`. Installation only
//! happens as root on Debian or Ubuntu; anywhere else xtask prints the
//! command and fails. There is no silent fallback.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const BINARY: &str = "qemu-system-riscv64";
const MINIMUM_MAJOR: u32 = 8;
const BACKPORTS_SOURCE: &str = "/etc/apt/sources.list.d/hypha-bookworm-backports.sources";

/// Returns the path of a usable `qemu-system-riscv64`, installing it first
/// when it is missing or too old and this process may do so.
pub(crate) fn ensure() -> Result<PathBuf> {
    match installed_version() {
        Some((path, major)) if major >= MINIMUM_MAJOR => return Ok(path),
        Some((_, major)) => eprintln!("xtask: {BINARY} is version {major}, Hypha needs {MINIMUM_MAJOR} or newer"),
        None => eprintln!("xtask: {BINARY} was not found"),
    }
    let os = OsRelease::read();
    let is_root = is_root();
    let plan = install_plan(&os);
    if !is_root || plan.is_none() {
        let how = plan.map_or_else(
            || "install QEMU 8 or newer with riscv64 system emulation and OpenSBI (package `qemu-system-misc` on Debian/Ubuntu)".to_owned(),
            |steps| format!("run as root:\n  {}", steps.join("\n  ")),
        );
        bail!("{BINARY} (version {MINIMUM_MAJOR}+) is required. To provision it, {how}");
    }
    let steps = plan.unwrap_or_default();
    eprintln!("xtask: provisioning QEMU:\n  {}", steps.join("\n  "));
    if os.id == "debian" && os.version_codename == "bookworm" {
        write_backports_source()?;
    }
    run_shell("apt-get update -q")?;
    let install = if os.id == "debian" && os.version_codename == "bookworm" {
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-misc"
    } else {
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-misc"
    };
    run_shell(install)?;
    match installed_version() {
        Some((path, major)) if major >= MINIMUM_MAJOR => Ok(path),
        Some((_, major)) => bail!("installed {BINARY} is still version {major}; Hypha needs {MINIMUM_MAJOR}+"),
        None => bail!("{BINARY} is still missing after installation"),
    }
}

fn installed_version() -> Option<(PathBuf, u32)> {
    let path = find_in_path(BINARY)?;
    let output = Command::new(&path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "QEMU emulator version 10.0.2 (Debian …)"
    let version = text.split("version ").nth(1)?;
    let major = version.split('.').next()?.trim().parse().ok()?;
    Some((path, major))
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// The commands that provision QEMU on this OS, or `None` where xtask does
/// not know how.
fn install_plan(os: &OsRelease) -> Option<Vec<String>> {
    match (os.id.as_str(), os.version_codename.as_str()) {
        ("debian", "bookworm") => Some(vec![
            format!("add an apt source for bookworm-backports ({BACKPORTS_SOURCE})"),
            "apt-get update".to_owned(),
            "apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-misc".to_owned(),
        ]),
        ("debian" | "ubuntu", _) => Some(vec![
            "apt-get update".to_owned(),
            "apt-get install -y --no-install-recommends qemu-system-misc".to_owned(),
        ]),
        _ => None,
    }
}

/// Writes an apt source for bookworm-backports using the archive URI of the
/// machine's existing Debian source.
fn write_backports_source() -> Result<()> {
    if Path::new(BACKPORTS_SOURCE).exists() || backports_already_configured() {
        return Ok(());
    }
    let uri = existing_debian_uri().unwrap_or_else(|| "http://deb.debian.org/debian".to_owned());
    let text = format!(
        "Types: deb\nURIs: {uri}\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    std::fs::write(BACKPORTS_SOURCE, text).with_context(|| format!("writing {BACKPORTS_SOURCE}"))
}

fn apt_source_texts() -> Vec<String> {
    let mut texts = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(text);
    }
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                texts.push(text);
            }
        }
    }
    texts
}

fn backports_already_configured() -> bool {
    apt_source_texts().iter().any(|text| {
        text.lines().any(|line| !line.trim_start().starts_with('#') && line.contains("bookworm-backports"))
    })
}

/// The first archive URI serving plain `bookworm`, in deb822 or one-line format.
fn existing_debian_uri() -> Option<String> {
    for text in apt_source_texts() {
        // deb822: a stanza with `URIs:` and `Suites:` naming bookworm.
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza.lines().find_map(|line| line.strip_prefix(name).map(|value| value.trim().to_owned()))
            };
            if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:"))
                && suites.split_whitespace().any(|suite| suite == "bookworm")
            {
                return uris.split_whitespace().next().map(str::to_owned);
            }
        }
        // one-line: `deb URI bookworm main`
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"deb")
                && words.contains(&"bookworm")
                && let Some(uri) = words.iter().find(|word| word.starts_with("http"))
            {
                return Some((*uri).to_owned());
            }
        }
    }
    None
}

fn run_shell(command: &str) -> Result<()> {
    let status = Command::new("sh").args(["-c", command]).status().with_context(|| format!("running `{command}`"))?;
    if !status.success() {
        bail!("`{command}` failed with {status}");
    }
    Ok(())
}

#[derive(Debug, Default)]
struct OsRelease {
    id: String,
    version_codename: String,
}

impl OsRelease {
    fn read() -> Self {
        let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let mut release = Self::default();
        for line in text.lines() {
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim_matches('"').to_owned();
                match key {
                    "ID" => release.id = value,
                    "VERSION_CODENAME" => release.version_codename = value,
                    _ => {}
                }
            }
        }
        release
    }
}
