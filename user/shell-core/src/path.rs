//! Path helpers for the shell: lexical normalisation (for `cd` and for
//! turning relative program paths absolute) and `PATH` search.

/// Joins `path` onto `cwd` (if relative) and removes `.`, `..` and repeated
/// slashes lexically. The result is absolute; `..` at the root stays at the
/// root.
#[must_use]
pub fn normalize(cwd: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { cwd };
    for comp in start.split('/').chain(path.split('/')) {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::new();
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Finds the module to run for command `name`.
///
/// A name containing `/` is a path (relative to `cwd`). Otherwise each
/// directory of `path_var` (colon-separated, empty entries ignored) is tried
/// for `DIR/name` and then `DIR/name.wasm`. `is_file` says whether a
/// candidate exists and is a regular file.
pub fn find_program(
    name: &str,
    path_var: &str,
    cwd: &str,
    is_file: impl Fn(&str) -> bool,
) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let candidates = |base: String| [base.clone(), format!("{base}.wasm")];
    if name.contains('/') {
        return candidates(normalize(cwd, name)).into_iter().find(|c| is_file(c));
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .flat_map(|d| candidates(normalize(cwd, &format!("{d}/{name}"))))
        .find(|c| is_file(c))
}

/// The last component of a path (`/bin/ls.wasm` → `ls`), without a
/// `.wasm` suffix: the name a program is shown under.
#[must_use]
pub fn program_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.strip_suffix(".wasm").filter(|b| !b.is_empty()).unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_absolute_and_relative() {
        assert_eq!(normalize("/", "tmp"), "/tmp");
        assert_eq!(normalize("/tmp", "a/b"), "/tmp/a/b");
        assert_eq!(normalize("/tmp", "/bin"), "/bin");
        assert_eq!(normalize("/tmp/x", ".."), "/tmp");
        assert_eq!(normalize("/tmp", "../../.."), "/");
        assert_eq!(normalize("/a", "./b//c/./../d/"), "/a/b/d");
        assert_eq!(normalize("/", ""), "/");
        assert_eq!(normalize("/tmp", ""), "/tmp");
    }

    #[test]
    fn find_in_path() {
        let files = ["/bin/ls", "/bin/cat.wasm", "/usr/bin/x", "/tmp/prog.wasm"];
        let exists = |p: &str| files.contains(&p);
        assert_eq!(find_program("ls", "/bin", "/", exists).as_deref(), Some("/bin/ls"));
        assert_eq!(find_program("cat", "/bin", "/", exists).as_deref(), Some("/bin/cat.wasm"));
        assert_eq!(find_program("x", "/bin::/usr/bin", "/", exists).as_deref(), Some("/usr/bin/x"));
        assert_eq!(find_program("nope", "/bin", "/", exists), None);
        assert_eq!(find_program("", "/bin", "/", exists), None);
        assert_eq!(find_program("x", "", "/", exists), None);
    }

    #[test]
    fn find_by_path() {
        let files = ["/bin/ls", "/tmp/prog.wasm"];
        let exists = |p: &str| files.contains(&p);
        assert_eq!(find_program("./prog", "/bin", "/tmp", exists).as_deref(), Some("/tmp/prog.wasm"));
        assert_eq!(find_program("/bin/ls", "", "/tmp", exists).as_deref(), Some("/bin/ls"));
        assert_eq!(find_program("../bin/ls", "", "/tmp", exists).as_deref(), Some("/bin/ls"));
        assert_eq!(find_program("bin/ls", "/nowhere", "/tmp", exists), None);
    }

    #[test]
    fn names() {
        assert_eq!(program_name("/bin/ls.wasm"), "ls");
        assert_eq!(program_name("/bin/ls"), "ls");
        assert_eq!(program_name("trap"), "trap");
        assert_eq!(program_name("/x/.wasm"), ".wasm");
    }
}
