//! `/tmp`: byte and inode quotas (`Nospc`, nothing lost), reclamation of
//! unlinked-but-open files, and a proptest against a simple model.

use std::collections::BTreeMap;

use hypha_vfs::{MountFs, OpenFile, Quota, TmpFs};
use hypha_wasi::OpenOptions;
use hypha_wasi::types::Errno;
use proptest::prelude::*;

const RW: OpenOptions = OpenOptions {
    read: true,
    write: true,
    truncate: false,
};

fn tmpfs(bytes: u64, inodes: u64) -> TmpFs {
    TmpFs::new(Box::new(|| 5), Quota { bytes, inodes })
}

fn contents(fs: &TmpFs, name: &str) -> Vec<u8> {
    let (ino, _) = fs.lookup(fs.root(), name).unwrap();
    let mut f = fs.open(ino, RW).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let n = f.read_at(&mut buf, 0).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn byte_quota_refuses_growth_and_keeps_data() {
    let fs = tmpfs(100, 16);
    let root = fs.root();
    let (_, mut f) = fs.create(root, "a", true, RW).unwrap();
    assert_eq!(f.write_at(&[1; 60], 0), Ok(60));
    // 60 + 50 > 100: refused whole, nothing written.
    assert_eq!(f.write_at(&[2; 50], 60), Err(Errno::Nospc));
    assert_eq!(fs.used_bytes(), 60);
    assert_eq!(contents(&fs, "a"), vec![1; 60]);
    // Overwriting inside the file needs no new space.
    assert_eq!(f.write_at(&[3; 60], 0), Ok(60));
    assert_eq!(f.set_len(101), Err(Errno::Nospc));
    assert_eq!(f.set_len(100), Ok(()));
    let (_, mut g) = fs.create(root, "b", true, RW).unwrap();
    assert_eq!(g.write_at(&[4], 0), Err(Errno::Nospc));
    // Shrinking frees space for others.
    f.set_len(10).unwrap();
    assert_eq!(g.write_at(&[4; 90], 0), Ok(90));
    assert_eq!(fs.used_bytes(), 100);
    assert_eq!(fs.quota(), Quota { bytes: 100, inodes: 16 });
}

#[test]
fn inode_quota_counts_files_dirs_and_symlinks() {
    let fs = tmpfs(1 << 20, 4);
    let root = fs.root();
    fs.create_dir(root, "d").unwrap();
    fs.symlink(root, "s", "d").unwrap();
    drop(fs.create(root, "f", true, RW).unwrap());
    assert_eq!(fs.inode_count(), 4, "root + 3");
    assert_eq!(fs.create(root, "g", true, RW).unwrap_err(), Errno::Nospc);
    assert_eq!(fs.create_dir(root, "e"), Err(Errno::Nospc));
    assert_eq!(fs.symlink(root, "t", "f"), Err(Errno::Nospc));
    // Hard links and renames need no inode.
    fs.link(root, "f", root, "f2").unwrap();
    fs.rename(root, "f2", root, "f3").unwrap();
    // Opening an existing name still works at the limit.
    assert!(fs.create(root, "f", false, RW).is_ok());
    fs.unlink(root, "s").unwrap();
    fs.create_dir(root, "e").unwrap();
}

#[test]
fn unlinked_open_files_hold_their_bytes_until_closed() {
    let fs = tmpfs(100, 8);
    let root = fs.root();
    let (_, mut f) = fs.create(root, "a", true, RW).unwrap();
    f.write_at(&[1; 80], 0).unwrap();
    fs.unlink(root, "a").unwrap();
    assert_eq!(fs.used_bytes(), 80);
    let mut buf = [0u8; 4];
    assert_eq!(f.read_at(&mut buf, 76), Ok(4));
    let (_, mut g) = fs.create(root, "b", true, RW).unwrap();
    assert_eq!(g.write_at(&[2; 30], 0), Err(Errno::Nospc));
    drop(f);
    assert_eq!(fs.used_bytes(), 0);
    assert_eq!(g.write_at(&[2; 30], 0), Ok(30));
    assert_eq!(f_stat_size(&*g), 30);
}

fn f_stat_size(f: &dyn OpenFile) -> u64 {
    f.stat().unwrap().size
}

#[derive(Clone, Debug)]
enum Op {
    Create(u8),
    Write(u8, u16, u16),
    SetLen(u8, u16),
    Unlink(u8),
    Mkdir(u8),
    Rmdir(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0u8..6;
    prop_oneof![
        n.clone().prop_map(Op::Create),
        (n.clone(), 0u16..300, 0u16..300).prop_map(|(a, o, l)| Op::Write(a, o, l)),
        (n.clone(), 0u16..400).prop_map(|(a, l)| Op::SetLen(a, l)),
        n.clone().prop_map(Op::Unlink),
        n.clone().prop_map(Op::Mkdir),
        n.prop_map(Op::Rmdir),
    ]
}

#[derive(Debug, Default)]
struct Model {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeMap<String, ()>,
}

impl Model {
    fn used(&self) -> u64 {
        self.files.values().map(|v| v.len() as u64).sum()
    }
    fn inodes(&self) -> u64 {
        1 + (self.files.len() + self.dirs.len()) as u64
    }
}

const BYTES: u64 = 1000;
const INODES: u64 = 6;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let fs = tmpfs(BYTES, INODES);
        let root = fs.root();
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Create(n) => {
                    let name = format!("f{n}");
                    let expect = if m.files.contains_key(&name) {
                        Ok(())
                    } else if m.inodes() >= INODES {
                        Err(Errno::Nospc)
                    } else {
                        Ok(())
                    };
                    let got = fs.create(root, &name, false, RW).map(|_| ());
                    prop_assert_eq!(got, expect);
                    if expect.is_ok() {
                        m.files.entry(name).or_default();
                    }
                }
                Op::Write(n, off, len) => {
                    let name = format!("f{n}");
                    let Ok((ino, _)) = fs.lookup(root, &name) else {
                        prop_assert!(!m.files.contains_key(&name));
                        continue;
                    };
                    let data: Vec<u8> = (0..len).map(|i| i.to_le_bytes()[0] ^ n).collect();
                    let model = m.files.get_mut(&name).unwrap();
                    let end = (off + len) as usize;
                    let grow = end.saturating_sub(model.len()) as u64;
                    let mut f = fs.open(ino, RW).unwrap();
                    let got = f.write_at(&data, u64::from(off));
                    if len == 0 {
                        // Writes nothing, not even a hole.
                        prop_assert_eq!(got, Ok(0));
                    } else if grow > 0 && m.used() + grow > BYTES {
                        prop_assert_eq!(got, Err(Errno::Nospc));
                    } else {
                        prop_assert_eq!(got, Ok(data.len()));
                        let model = m.files.get_mut(&name).unwrap();
                        if model.len() < end {
                            model.resize(end, 0);
                        }
                        model[off as usize..end].copy_from_slice(&data);
                    }
                }
                Op::SetLen(n, len) => {
                    let name = format!("f{n}");
                    let Ok((ino, _)) = fs.lookup(root, &name) else { continue };
                    let cur = m.files[&name].len() as u64;
                    let mut f = fs.open(ino, RW).unwrap();
                    let got = f.set_len(u64::from(len));
                    if u64::from(len) > cur && m.used() - cur + u64::from(len) > BYTES {
                        prop_assert_eq!(got, Err(Errno::Nospc));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        m.files.get_mut(&name).unwrap().resize(len as usize, 0);
                    }
                }
                Op::Unlink(n) => {
                    let name = format!("f{n}");
                    let got = fs.unlink(root, &name);
                    prop_assert_eq!(got.is_ok(), m.files.remove(&name).is_some());
                }
                Op::Mkdir(n) => {
                    let name = format!("d{n}");
                    let expect = if m.dirs.contains_key(&name) {
                        Err(Errno::Exist)
                    } else if m.inodes() >= INODES {
                        Err(Errno::Nospc)
                    } else {
                        Ok(())
                    };
                    prop_assert_eq!(fs.create_dir(root, &name), expect);
                    if expect.is_ok() {
                        m.dirs.insert(name, ());
                    }
                }
                Op::Rmdir(n) => {
                    let name = format!("d{n}");
                    let got = fs.remove_dir(root, &name);
                    prop_assert_eq!(got.is_ok(), m.dirs.remove(&name).is_some());
                }
            }
            // Everything the model holds is there, byte for byte.
            prop_assert_eq!(fs.used_bytes(), m.used());
            prop_assert_eq!(fs.inode_count() as u64, m.inodes());
            for (name, data) in &m.files {
                prop_assert_eq!(&contents(&fs, name), data);
            }
            let listed: Vec<String> = fs.readdir(root).unwrap().into_iter().map(|e| e.name).collect();
            let mut expected: Vec<String> = m.files.keys().chain(m.dirs.keys()).cloned().collect();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }
}
