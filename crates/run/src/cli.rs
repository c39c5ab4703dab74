//! Command-line parsing for `hypha-run`.

use std::fmt;
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "usage: hypha-run [--dir HOST[::GUEST]]... [--env K=V]... [--fuel N] module.wasm [args...]";

/// One preopened directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMap {
    /// Directory on the host.
    pub host: PathBuf,
    /// Name the guest sees (`fd_prestat_dir_name`).
    pub guest: String,
}

/// What `hypha-run` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Preopened directories, in order (fd 3, 4, ...).
    pub dirs: Vec<DirMap>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// Fuel budget (instruction count); `None` = unmetered.
    pub fuel: Option<u64>,
    /// The module file.
    pub module: PathBuf,
    /// Arguments after the module (argv\[1..\]).
    pub args: Vec<String>,
}

/// A command-line error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `-h`/`--help` was given.
    Help,
    /// An option needs a value and none followed.
    MissingValue(String),
    /// An option we do not know.
    UnknownOption(String),
    /// `--env` without `=`.
    BadEnv(String),
    /// `--fuel` not a number.
    BadFuel(String),
    /// `--dir` with an empty host or guest part.
    BadDir(String),
    /// No module path.
    NoModule,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help => f.write_str(USAGE),
            CliError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            CliError::UnknownOption(o) => write!(f, "unknown option `{o}`"),
            CliError::BadEnv(v) => write!(f, "`--env {v}`: expected KEY=VALUE"),
            CliError::BadFuel(v) => write!(f, "`--fuel {v}`: expected a non-negative integer"),
            CliError::BadDir(v) => write!(f, "`--dir {v}`: expected HOST or HOST::GUEST"),
            CliError::NoModule => f.write_str("no module given"),
        }
    }
}

impl std::error::Error for CliError {}

fn parse_dir(v: &str) -> Result<DirMap, CliError> {
    let (host, guest) = match v.split_once("::") {
        Some((h, g)) => (h, g),
        None => (v, v),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(CliError::BadDir(v.to_owned()));
    }
    Ok(DirMap { host: PathBuf::from(host), guest: guest.to_owned() })
}

/// Parse the arguments after the program name. Options come before the
/// module; everything after the module belongs to the guest. `--opt=value`
/// and `--opt value` are both accepted; `--` ends the options.
///
/// # Errors
/// A [`CliError`] describing the first problem.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, CliError> {
    let mut opts = Options::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            let module = it.next().ok_or(CliError::NoModule)?;
            opts.module = PathBuf::from(module);
            opts.args = it.collect();
            return Ok(opts);
        }
        if !arg.starts_with('-') || arg == "-" {
            opts.module = PathBuf::from(arg);
            opts.args = it.collect();
            return Ok(opts);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| inline.clone().or_else(|| it.next()).ok_or_else(|| CliError::MissingValue(name.to_owned()));
        match name.as_str() {
            "-h" | "--help" => return Err(CliError::Help),
            "--dir" => opts.dirs.push(parse_dir(&value("--dir")?)?),
            "--env" => {
                let v = value("--env")?;
                let (k, val) = v.split_once('=').ok_or_else(|| CliError::BadEnv(v.clone()))?;
                if k.is_empty() {
                    return Err(CliError::BadEnv(v.clone()));
                }
                opts.env.push((k.to_owned(), val.to_owned()));
            }
            "--fuel" => {
                let v = value("--fuel")?;
                opts.fuel = Some(v.parse().map_err(|_| CliError::BadFuel(v.clone()))?);
            }
            _ => return Err(CliError::UnknownOption(name)),
        }
    }
    Err(CliError::NoModule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, CliError> {
        parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn full_command_line() {
        let o = p(&["--dir", "/tmp::/", "--dir=data", "--env", "A=1", "--env=B=x=y", "--fuel", "100", "m.wasm", "--dir", "x"])
            .unwrap();
        assert_eq!(o.dirs, vec![
            DirMap { host: "/tmp".into(), guest: "/".into() },
            DirMap { host: "data".into(), guest: "data".into() }
        ]);
        assert_eq!(o.env, vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]);
        assert_eq!(o.fuel, Some(100));
        assert_eq!(o.module, PathBuf::from("m.wasm"));
        assert_eq!(o.args, vec!["--dir".to_owned(), "x".to_owned()]);
    }

    #[test]
    fn double_dash_ends_options() {
        let o = p(&["--", "--weird.wasm", "a"]).unwrap();
        assert_eq!(o.module, PathBuf::from("--weird.wasm"));
        assert_eq!(o.args, vec!["a".to_owned()]);
    }

    #[test]
    fn errors() {
        assert_eq!(p(&[]), Err(CliError::NoModule));
        assert_eq!(p(&["--env", "NOEQ", "m.wasm"]), Err(CliError::BadEnv("NOEQ".into())));
        assert_eq!(p(&["--env", "=v", "m.wasm"]), Err(CliError::BadEnv("=v".into())));
        assert_eq!(p(&["--fuel", "-3", "m.wasm"]), Err(CliError::BadFuel("-3".into())));
        assert_eq!(p(&["--fuel"]), Err(CliError::MissingValue("--fuel".into())));
        assert_eq!(p(&["--dir", "::/", "m.wasm"]), Err(CliError::BadDir("::/".into())));
        assert_eq!(p(&["--bogus", "m.wasm"]), Err(CliError::UnknownOption("--bogus".into())));
        assert_eq!(p(&["-h"]), Err(CliError::Help));
    }
}
