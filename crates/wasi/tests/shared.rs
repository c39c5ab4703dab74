//! Open file descriptions shared between fds and between contexts
//! (`WasiCtx::share_fd` / `install_shared` / `insert_shared`).

mod common;

use common::Guest;
use hypha_wasi::types::{Errno, Filetype, Whence, oflags, rights};

const RW: u64 = rights::FD_READ | rights::FD_WRITE | rights::FD_SEEK | rights::FD_TELL;

#[test]
fn a_shared_file_shares_its_offset_across_contexts() {
    let mut parent = Guest::new("share-parent");
    let mut child = Guest::new("share-child");
    let fd = parent.open_file("f", oflags::CREAT, RW).unwrap();
    parent.write(fd, b"abcdef").unwrap();
    parent.seek(fd, 0, Whence::Set.raw()).unwrap();

    let shared = parent.ctx.share_fd(fd).unwrap();
    assert_eq!(shared.filetype(), Filetype::RegularFile);
    child.ctx.install_shared(0, shared).unwrap();
    assert_eq!(child.read(0, 2).unwrap(), b"ab");
    // The child's read moved the parent's offset too.
    assert_eq!(parent.tell(fd).unwrap(), 2);
    assert_eq!(parent.read(fd, 2).unwrap(), b"cd");
    assert_eq!(child.tell(0).unwrap(), 4);
    // Rights travel with the fd.
    assert_eq!(child.fdstat(0).unwrap().rights_base, parent.fdstat(fd).unwrap().rights_base);

    // Closing one side leaves the other working.
    child.close(0).unwrap();
    assert_eq!(child.read(0, 1), Err(Errno::Badf));
    assert_eq!(parent.read(fd, 10).unwrap(), b"ef");
}

#[test]
fn the_description_outlives_the_context_it_came_from() {
    let mut parent = Guest::new("share-drop");
    let mut child = Guest::new("share-drop-child");
    let fd = parent.open_file("f", oflags::CREAT, RW).unwrap();
    parent.write(fd, b"xyz").unwrap();
    parent.seek(fd, 1, Whence::Set.raw()).unwrap();
    let n = child.ctx.insert_shared(parent.ctx.share_fd(fd).unwrap()).unwrap();
    assert!(n >= 4, "lowest free fd after the preopen, got {n}");
    drop(parent);
    assert_eq!(child.read(n, 10).unwrap(), b"yz");
}

#[test]
fn stdio_streams_can_be_shared() {
    let mut parent = Guest::new("share-stdio");
    let mut child = Guest::new("share-stdio-child");
    child.ctx.install_shared(1, parent.ctx.share_fd(1).unwrap()).unwrap();
    child.write(1, b"from child ").unwrap();
    parent.write(1, b"from parent").unwrap();
    assert_eq!(parent.stdout.contents(), b"from child from parent");
    assert!(child.stdout.contents().is_empty());
    assert_eq!(parent.ctx.share_fd(99).unwrap_err(), Errno::Badf);
    let out = parent.ctx.share_fd(1).unwrap();
    assert_eq!(child.ctx.install_shared(hypha_wasi::MAX_FDS + 1, out), Err(Errno::Badf));
}

#[test]
fn the_file_is_closed_when_the_last_fd_goes() {
    let mut g = Guest::memfs(1 << 20);
    let a = g.open_file("f", oflags::CREAT, RW).unwrap();
    g.write(a, b"data").unwrap();
    let b = g.ctx.insert_shared(g.ctx.share_fd(a).unwrap()).unwrap();
    let live = g.ctx.fs().inode_count();
    g.unlink("f").unwrap();
    g.close(a).unwrap();
    // Still open through b: the unlinked inode is alive and readable.
    assert_eq!(g.ctx.fs().inode_count(), live);
    g.seek(b, 0, Whence::Set.raw()).unwrap();
    assert_eq!(g.read(b, 10).unwrap(), b"data");
    g.close(b).unwrap();
    assert_eq!(g.ctx.fs().inode_count(), live - 1);
    assert_eq!(g.ctx.fs().used_bytes(), 0);
}

#[test]
fn renumber_moves_a_shared_description() {
    let mut g = Guest::memfs(1 << 20);
    let a = g.open_file("f", oflags::CREAT, RW).unwrap();
    g.write(a, b"12345").unwrap();
    g.seek(a, 0, Whence::Set.raw()).unwrap();
    let b = g.ctx.insert_shared(g.ctx.share_fd(a).unwrap()).unwrap();
    let c = g.open_file("g", oflags::CREAT, RW).unwrap();
    g.call("fd_renumber", &[u64::from(b), u64::from(c)]).unwrap();
    assert_eq!(g.read(b, 1), Err(Errno::Badf));
    assert_eq!(g.read(c, 2).unwrap(), b"12");
    assert_eq!(g.read(a, 2).unwrap(), b"34");
}

#[test]
fn streams_inserted_at_the_lowest_free_fd() {
    use hypha_wasi::host::{MemoryInput, MemoryOutput};
    let mut g = Guest::memfs(1 << 20);
    let out = MemoryOutput::new();
    let w = g.ctx.insert_output(Box::new(out.clone())).unwrap();
    let r = g.ctx.insert_input(Box::new(MemoryInput::new(b"piped".to_vec()))).unwrap();
    assert_eq!((w, r), (4, 5), "fd 3 is the preopen");
    g.write(w, b"to the pipe").unwrap();
    assert_eq!(out.contents(), b"to the pipe");
    assert_eq!(g.read(r, 10).unwrap(), b"piped");
    // Streams are neither seekable nor terminals.
    let st = g.fdstat(r).unwrap();
    assert_eq!(st.filetype, Filetype::Unknown.raw());
    assert_eq!(st.rights_base & (rights::FD_SEEK | rights::FD_TELL), 0);
    assert_eq!(g.read(w, 1), Err(Errno::Notcapable));
    g.close(w).unwrap();
    assert_eq!(g.ctx.insert_input(Box::new(MemoryInput::new(Vec::new()))).unwrap(), 4);
}

#[test]
fn stream_descriptions_made_without_a_context() {
    use hypha_wasi::SharedFd;
    use hypha_wasi::host::{HostFs, MemoryInput, MemoryOutput};
    let mut a = Guest::new("share-new-a");
    let mut b = Guest::new("share-new-b");
    let out = MemoryOutput::new();
    let shared = SharedFd::<HostFs>::output(Box::new(out.clone()));
    assert_eq!(shared.filetype(), Filetype::Unknown);
    a.ctx.install_shared(1, shared.clone()).unwrap();
    b.ctx.install_shared(2, shared).unwrap();
    a.write(1, b"a").unwrap();
    b.write(2, b"b").unwrap();
    assert_eq!(out.contents(), b"ab");
    let input = SharedFd::<HostFs>::input(Box::new(MemoryInput::new(b"xyz".to_vec())));
    a.ctx.install_shared(0, input.clone()).unwrap();
    b.ctx.install_shared(0, input).unwrap();
    assert_eq!(a.read(0, 1).unwrap(), b"x");
    assert_eq!(b.read(0, 5).unwrap(), b"yz", "one stream, read by both");
    assert_eq!(b.fdstat(0).unwrap().rights_base & rights::FD_WRITE, 0);
}
