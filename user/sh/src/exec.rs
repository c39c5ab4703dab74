//! Running parsed commands: variables, builtins, redirections, pipelines of
//! Hypha processes.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;

use hypha_abi::{Errno, ExitStatus, Pid, Spawn, Stdio};
use shell_core::expand::{expand_single, expand_words};
use shell_core::parse::{self, Command, Connector, Pipeline, RedirKind};
use shell_core::path::{find_program, normalize, program_name};

/// What the caller should do after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// `exit` was run: stop with this status.
    Exit(u32),
}

/// One shell variable.
#[derive(Debug, Clone)]
struct Var {
    value: String,
    exported: bool,
}

/// The shell's state.
#[derive(Debug)]
pub struct Shell {
    vars: BTreeMap<String, Var>,
    status: u32,
    cwd: String,
}

/// The builtins (run inside the shell, not spawned).
const BUILTINS: &[(&str, &str)] = &[
    ("cd", "cd [DIR]       change directory (default: $HOME or /)"),
    ("pwd", "pwd            print the working directory"),
    ("export", "export [NAME[=VALUE]...]  export variables to programs (no args: list)"),
    ("unset", "unset NAME...  remove variables"),
    ("exit", "exit [N]       leave the shell with status N (default: $?)"),
    ("true", "true           succeed"),
    ("false", "false          fail"),
    ("history", "history        list previous lines"),
    ("help", "help           this list"),
];

/// Opened redirection targets and pipe ends for one command; dropped (and
/// so closed in the shell) once the command has been spawned.
#[derive(Debug, Default)]
struct CmdIo {
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    /// `2>&1` was given (and not overridden by a later `2>`): stderr goes
    /// wherever stdout finally goes (file, pipe or the console).
    err_to_out: bool,
    /// Index in `keep` of the file stdout was redirected to.
    stdout_file: Option<usize>,
    keep: Vec<File>,
}

// === impl Shell ===

impl Shell {
    /// A shell with the process environment as exported variables.
    pub fn new() -> Self {
        // PWD from the parent (the Hypha working-directory convention).
        let _ = hypha_abi::inherit_cwd();
        let mut vars: BTreeMap<String, Var> = std::env::vars()
            .map(|(k, v)| (k, Var { value: v, exported: true }))
            .collect();
        let cwd = vars
            .get("PWD")
            .map(|v| v.value.clone())
            .filter(|p| p.starts_with('/'))
            .unwrap_or_else(|| "/".to_owned());
        vars.entry("PATH".into()).or_insert(Var { value: "/bin".into(), exported: true });
        vars.insert("PWD".into(), Var { value: cwd.clone(), exported: true });
        Self { vars, status: 0, cwd }
    }

    /// `$?`.
    pub fn last_status(&self) -> u32 {
        self.status
    }

    /// Sets `$?`.
    pub fn set_status(&mut self, s: u32) {
        self.status = s;
    }

    /// The prompt for the next line.
    pub fn prompt(&self) -> String {
        format!("hypha:{}$ ", self.cwd)
    }

    fn var(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.status.to_string()),
            "$" => Some(hypha_abi::getpid().to_string()),
            _ => self.vars.get(name).map(|v| v.value.clone()),
        }
    }

    fn set_var(&mut self, name: &str, value: String) {
        let exported = self.vars.get(name).is_some_and(|v| v.exported);
        self.vars.insert(name.to_owned(), Var { value, exported });
    }

    /// Parses and runs one line.
    pub fn run_line(&mut self, line: &str) -> Flow {
        let script = match parse::parse(line) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("sh: {e}");
                self.status = 2;
                return Flow::Continue;
            }
        };
        for item in &script.items {
            if let Flow::Exit(c) = self.run_pipeline(&item.first) {
                return Flow::Exit(c);
            }
            for (conn, pipeline) in &item.rest {
                let run = match conn {
                    Connector::And => self.status == 0,
                    Connector::Or => self.status != 0,
                };
                if run && let Flow::Exit(c) = self.run_pipeline(pipeline) {
                    return Flow::Exit(c);
                }
            }
        }
        Flow::Continue
    }

    fn run_pipeline(&mut self, p: &Pipeline) -> Flow {
        if let [cmd] = p.commands.as_slice() {
            let argv = expand_words(&cmd.words, &|n: &str| self.var(n));
            if argv.is_empty() {
                return self.run_assignments_only(cmd);
            }
            if BUILTINS.iter().any(|b| b.0 == argv[0]) {
                return self.run_builtin(cmd, &argv);
            }
        }
        self.status = self.spawn_pipeline(p);
        Flow::Continue
    }

    // === builtins ===

    fn run_assignments_only(&mut self, cmd: &Command) -> Flow {
        for (name, value) in &cmd.assignments {
            let v = expand_single(value, &|n: &str| self.var(n));
            self.set_var(name, v);
        }
        // `> file` alone creates/truncates the file.
        let mut io = CmdIo::default();
        self.status = match self.open_redirects(cmd, &mut io) {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("sh: {msg}");
                1
            }
        };
        Flow::Continue
    }

    fn run_builtin(&mut self, cmd: &Command, argv: &[String]) -> Flow {
        let mut io = CmdIo::default();
        if let Err(msg) = self.open_redirects(cmd, &mut io) {
            eprintln!("sh: {msg}");
            self.status = 1;
            return Flow::Continue;
        }
        // Builtin output goes to the redirected file, if any.
        let mut out: Box<dyn Write> = match io.stdout_file {
            Some(i) => Box::new(io.keep.swap_remove(i)),
            None => Box::new(io::stdout()),
        };
        let args = &argv[1..];
        let result: Result<u32, String> = match argv[0].as_str() {
            "cd" => self.cd(args),
            "pwd" => writeln!(out, "{}", self.cwd).map(|()| 0).map_err(|e| e.to_string()),
            "export" => self.export(args, &mut out),
            "unset" => {
                for a in args {
                    self.vars.remove(a);
                }
                Ok(0)
            }
            "exit" => {
                return Flow::Exit(match args.first() {
                    Some(n) => n.parse().unwrap_or_else(|_| {
                        eprintln!("sh: exit: {n}: numeric argument required");
                        2
                    }),
                    None => self.status,
                });
            }
            "true" => Ok(0),
            "false" => Ok(1),
            "history" => Ok(0),
            "help" => {
                let mut r = Ok(0);
                for (_, h) in BUILTINS {
                    if let Err(e) = writeln!(out, "{h}") {
                        r = Err(e.to_string());
                    }
                }
                r
            }
            other => Err(format!("{other}: unknown builtin")),
        };
        let _ = out.flush();
        self.status = match result {
            Ok(s) => s,
            Err(msg) => {
                eprintln!("sh: {}: {msg}", argv[0]);
                1
            }
        };
        Flow::Continue
    }

    fn cd(&mut self, args: &[String]) -> Result<u32, String> {
        let target = match args {
            [] => self.var("HOME").unwrap_or_else(|| "/".into()),
            [dir] => dir.clone(),
            _ => return Err("too many arguments".into()),
        };
        let path = normalize(&self.cwd, &target);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{target}: not a directory")),
            Err(e) => return Err(format!("{target}: {}", describe(&e))),
        }
        std::env::set_current_dir(&path).map_err(|e| format!("{target}: {}", describe(&e)))?;
        self.cwd.clone_from(&path);
        self.set_var("PWD", path);
        Ok(0)
    }

    fn export(&mut self, args: &[String], out: &mut dyn Write) -> Result<u32, String> {
        if args.is_empty() {
            for (k, v) in self.vars.iter().filter(|(_, v)| v.exported) {
                writeln!(out, "export {k}={}", v.value).map_err(|e| e.to_string())?;
            }
            return Ok(0);
        }
        let mut status = 0;
        for a in args {
            let (name, value) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (a.as_str(), None),
            };
            if !parse::is_name(name) {
                eprintln!("sh: export: `{a}`: not a valid name");
                status = 1;
                continue;
            }
            let value = value.or_else(|| self.vars.get(name).map(|v| v.value.clone()));
            self.vars.insert(name.to_owned(), Var { value: value.unwrap_or_default(), exported: true });
        }
        Ok(status)
    }

    // === processes ===

    /// The environment a child gets: exported variables plus per-command
    /// assignments.
    fn child_env(&self, cmd: &Command) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = self
            .vars
            .iter()
            .filter(|(_, v)| v.exported)
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        for (name, value) in &cmd.assignments {
            env.insert(name.clone(), expand_single(value, &|n: &str| self.var(n)));
        }
        env.into_iter().collect()
    }

    /// Opens `cmd`'s redirections into `io`.
    fn open_redirects(&self, cmd: &Command, io: &mut CmdIo) -> Result<(), String> {
        for r in &cmd.redirects {
            if r.kind == RedirKind::ErrToOut {
                io.err_to_out = true;
                continue;
            }
            let Some(target) = &r.target else { continue };
            let name = expand_single(target, &|n: &str| self.var(n));
            let path = normalize(&self.cwd, &name);
            let file = match r.kind {
                RedirKind::In => File::open(&path),
                RedirKind::Out | RedirKind::ErrOut => File::create(&path),
                RedirKind::Append | RedirKind::ErrAppend => {
                    OpenOptions::new().append(true).create(true).open(&path)
                }
                RedirKind::ErrToOut => continue,
            }
            .map_err(|e| format!("{name}: {}", describe(&e)))?;
            let fd = Stdio::from_fd(&file).map_err(|e| format!("{name}: {e}"))?;
            match r.kind {
                RedirKind::In => io.stdin = Some(fd),
                RedirKind::Out | RedirKind::Append => {
                    io.stdout = Some(fd);
                    io.stdout_file = Some(io.keep.len());
                }
                RedirKind::ErrOut | RedirKind::ErrAppend | RedirKind::ErrToOut => {
                    io.stderr = Some(fd);
                    io.err_to_out = false;
                }
            }
            io.keep.push(file);
        }
        Ok(())
    }

    /// Spawns every command of the pipeline connected by pipes, waits for
    /// all of them, and returns the last one's status.
    fn spawn_pipeline(&mut self, p: &Pipeline) -> u32 {
        let mut children: Vec<(String, Pid)> = Vec::new();
        let mut status = 0;
        let mut prev_read: Option<OwnedFd> = None;
        let n = p.commands.len();
        for (i, cmd) in p.commands.iter().enumerate() {
            let pipe = if i + 1 < n {
                match hypha_abi::pipe() {
                    Ok(pipe) => Some(pipe),
                    Err(e) => {
                        eprintln!("sh: pipe: {e}");
                        status = 1;
                        break;
                    }
                }
            } else {
                None
            };
            let stdin = prev_read.take();
            let (name, result) = self.spawn_command(cmd, stdin.as_ref(), pipe.as_ref().map(|p| &p.write));
            // The shell's copies of this command's pipe ends close here, so
            // readers see EOF once the writers exit.
            drop(stdin);
            prev_read = pipe.map(|p| p.read);
            match result {
                Ok(pid) => children.push((name, pid)),
                Err(code) => status = code,
            }
        }
        drop(prev_read);
        let last_spawned = children.last().map(|c| c.1);
        for (name, pid) in children {
            let s = match hypha_abi::wait(pid) {
                Ok(st) => {
                    report(&name, &st);
                    st.shell_code()
                }
                Err(e) => {
                    eprintln!("sh: wait {pid} ({name}): {e}");
                    1
                }
            };
            if Some(pid) == last_spawned {
                status = s;
            }
        }
        status
    }

    /// Spawns one command; returns its display name and pid or the status
    /// to use when it could not start.
    fn spawn_command(
        &self,
        cmd: &Command,
        pipe_in: Option<&OwnedFd>,
        pipe_out: Option<&OwnedFd>,
    ) -> (String, Result<Pid, u32>) {
        let argv = expand_words(&cmd.words, &|n: &str| self.var(n));
        let Some(name) = argv.first().cloned() else {
            eprintln!("sh: empty command in pipeline");
            return (String::new(), Err(2));
        };
        if BUILTINS.iter().any(|b| b.0 == name) {
            eprintln!("sh: {name}: builtins cannot be used in a pipeline");
            return (name, Err(2));
        }
        let path_var = self.var("PATH").unwrap_or_default();
        let is_file = |p: &str| std::fs::metadata(p).is_ok_and(|m| m.is_file());
        let Some(path) = find_program(&name, &path_var, &self.cwd, is_file) else {
            eprintln!("sh: {name}: command not found");
            return (name, Err(127));
        };
        let mut io = CmdIo::default();
        if let Err(msg) = self.open_redirects(cmd, &mut io) {
            eprintln!("sh: {msg}");
            return (name, Err(1));
        }
        let fd_of = |fd: Option<&OwnedFd>| fd.and_then(|f| Stdio::from_fd(f).ok());
        let stdin = io.stdin.or(fd_of(pipe_in)).unwrap_or(Stdio::Inherit);
        let stdout = io.stdout.or(fd_of(pipe_out)).unwrap_or(Stdio::Inherit);
        let stderr = if io.err_to_out { stdout } else { io.stderr.unwrap_or(Stdio::Inherit) };
        let display = program_name(&name).to_owned();
        let result = Spawn::new(path)
            .arg0(name.clone())
            .args(argv.into_iter().skip(1))
            .env_clear_and_set(self.child_env(cmd))
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn();
        match result {
            Ok(pid) => (display, Ok(pid)),
            Err(e) => {
                let code = if e == Errno::NOENT { 127 } else { 126 };
                eprintln!("sh: {name}: {e}");
                (display, Err(code))
            }
        }
    }
}

/// Tells the user when a child did not simply exit.
fn report(name: &str, st: &ExitStatus) {
    match st {
        ExitStatus::Exited(_) => {}
        ExitStatus::Trapped { message, .. } => eprintln!("{name}: trapped: {message}"),
        ExitStatus::Killed => eprintln!("{name}: killed"),
    }
}

/// An I/O error without std's "(os error N)" suffix.
fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test function: `cd` changes the process-wide working directory,
    /// so these steps must not run in parallel with each other.
    #[test]
    fn builtins_variables_connectors_and_redirections_on_the_host() {
        let dir = std::env::temp_dir().join(format!("hypha-sh-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let dir_s = dir.to_str().expect("utf-8 temp path").to_owned();
        let mut sh = Shell::new();

        // Variables, `$?`, && and ||.
        assert_eq!(sh.run_line("X=hello; Y=\"$X world\""), Flow::Continue);
        assert_eq!(sh.var("Y").as_deref(), Some("hello world"));
        sh.run_line("false || Z=ran; true && W=ran; false && V=no");
        assert_eq!(sh.var("Z").as_deref(), Some("ran"));
        assert_eq!(sh.var("W").as_deref(), Some("ran"));
        assert_eq!(sh.var("V"), None);
        sh.run_line("false; S=$?");
        assert_eq!(sh.var("S").as_deref(), Some("1"));

        // cd + pwd redirected into a file, then appended to.
        sh.run_line(&format!("cd {dir_s} && pwd > out.txt && pwd >> out.txt"));
        assert_eq!(sh.last_status(), 0);
        assert_eq!(sh.prompt(), format!("hypha:{dir_s}$ "));
        let text = std::fs::read_to_string(dir.join("out.txt")).expect("redirect wrote the file");
        assert_eq!(text, format!("{dir_s}\n{dir_s}\n"));

        // export marks variables for children; unexported ones are not passed.
        sh.run_line("export E1=one; LOCAL=two");
        let env = sh.child_env(&Command::default());
        assert!(env.contains(&("E1".into(), "one".into())));
        assert!(!env.iter().any(|(k, _)| k == "LOCAL"));
        assert!(env.contains(&("PWD".into(), dir_s.clone())));
        sh.run_line("export > vars.txt");
        let vars = std::fs::read_to_string(dir.join("vars.txt")).expect("export listing");
        assert!(vars.contains("export E1=one\n"));

        // Errors set the status and the shell goes on.
        sh.run_line("cd /definitely/not/here");
        assert_eq!(sh.last_status(), 1);
        sh.run_line("echo 'unterminated");
        assert_eq!(sh.last_status(), 2);
        sh.run_line("no-such-program-xyz");
        assert_eq!(sh.last_status(), 127);

        // A program that exists but cannot be spawned (host build: ENOSYS);
        // a failed redirection stops it before the spawn.
        std::fs::write(dir.join("prog.wasm"), b"\0asm").expect("write");
        sh.run_line("./prog");
        assert_eq!(sh.last_status(), 126);
        sh.run_line("./prog < missing-file");
        assert_eq!(sh.last_status(), 1);

        // `> file` alone creates the file; exit returns its status.
        sh.run_line("> empty.txt");
        assert_eq!(std::fs::read(dir.join("empty.txt")).expect("created").len(), 0);
        assert_eq!(sh.run_line("exit 3"), Flow::Exit(3));
        assert_eq!(sh.run_line("false; exit"), Flow::Exit(1));

        std::env::set_current_dir("/").expect("leave temp dir");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn describe_strips_os_error() {
        assert!(!describe(&io::Error::from_raw_os_error(2)).contains("os error"));
    }
}
