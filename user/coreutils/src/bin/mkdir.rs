//! `mkdir [-p] DIR...`: creates directories (`-p`: with parents, no error if present).
fn main() {
    coreutils::run("mkdir", |args| {
        let p = coreutils::args::parse(args, "p", "")?;
        if p.operands.is_empty() {
            return Err("usage: mkdir [-p] DIR...".into());
        }
        let mut status = 0;
        for d in &p.operands {
            let r = if p.has('p') { std::fs::create_dir_all(d) } else { std::fs::create_dir(d) };
            if let Err(e) = r {
                eprintln!("mkdir: {d}: {}", coreutils::describe(&e));
                status = 1;
            }
        }
        Ok(status)
    })
}
