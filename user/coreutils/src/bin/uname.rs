//! `uname [-a] [-s] [-n] [-r] [-v] [-m]`: system identity (default: `-s`).
fn main() {
    coreutils::run("uname", |args| {
        let p = coreutils::args::parse(args, "asnrvm", "")
            .map_err(|e| format!("{e}\nusage: uname [-a] [-s] [-n] [-r] [-v] [-m]"))?;
        let s = hypha_abi::sysinfo().map_err(|e| e.to_string())?;
        let all = p.has('a');
        let fields = [
            ('s', &s.sysname),
            ('n', &s.nodename),
            ('r', &s.release),
            ('v', &s.version),
            ('m', &s.machine),
        ];
        let any = fields.iter().any(|(c, _)| p.has(*c));
        let shown: Vec<&str> = fields
            .iter()
            .filter(|(c, _)| all || p.has(*c) || (!any && *c == 's'))
            .map(|(_, v)| v.as_str())
            .collect();
        println!("{}", shown.join(" "));
        Ok(0)
    })
}
