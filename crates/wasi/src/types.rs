//! The `wasi_snapshot_preview1` ABI types: errno values, flag bit sets,
//! enumerations and the little-endian layouts of the structs the guest sees.
//!
//! Every value here follows the preview 1 witx definitions exactly.

use core::fmt;

// === impl Errno ===

macro_rules! errnos {
    ($( $(#[$m:meta])* $variant:ident = $val:literal, $name:literal, $msg:literal; )*) => {
        /// A WASI preview 1 error number (`errno`, a `u16` on the wire).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Errno {
            $( $(#[$m])* #[doc = $msg] $variant = $val, )*
        }

        impl Errno {
            /// Every errno, in numeric order.
            pub const ALL: &'static [Errno] = &[ $( Errno::$variant, )* ];

            /// The witx name, e.g. `"noent"`.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $( Errno::$variant => $name, )* }
            }

            /// The witx description of the error.
            #[must_use]
            pub const fn message(self) -> &'static str {
                match self { $( Errno::$variant => $msg, )* }
            }

            /// The errno with raw value `raw`, if there is one.
            #[must_use]
            pub const fn from_raw(raw: u16) -> Option<Errno> {
                match raw { $( $val => Some(Errno::$variant), )* _ => None }
            }
        }
    };
}

errnos! {
    Success = 0, "success", "No error occurred. System call completed successfully.";
    TooBig = 1, "2big", "Argument list too long.";
    Acces = 2, "acces", "Permission denied.";
    Addrinuse = 3, "addrinuse", "Address in use.";
    Addrnotavail = 4, "addrnotavail", "Address not available.";
    Afnosupport = 5, "afnosupport", "Address family not supported.";
    Again = 6, "again", "Resource unavailable, or operation would block.";
    Already = 7, "already", "Connection already in progress.";
    Badf = 8, "badf", "Bad file descriptor.";
    Badmsg = 9, "badmsg", "Bad message.";
    Busy = 10, "busy", "Device or resource busy.";
    Canceled = 11, "canceled", "Operation canceled.";
    Child = 12, "child", "No child processes.";
    Connaborted = 13, "connaborted", "Connection aborted.";
    Connrefused = 14, "connrefused", "Connection refused.";
    Connreset = 15, "connreset", "Connection reset.";
    Deadlk = 16, "deadlk", "Resource deadlock would occur.";
    Destaddrreq = 17, "destaddrreq", "Destination address required.";
    Dom = 18, "dom", "Mathematics argument out of domain of function.";
    Dquot = 19, "dquot", "Reserved.";
    Exist = 20, "exist", "File exists.";
    Fault = 21, "fault", "Bad address.";
    Fbig = 22, "fbig", "File too large.";
    Hostunreach = 23, "hostunreach", "Host is unreachable.";
    Idrm = 24, "idrm", "Identifier removed.";
    Ilseq = 25, "ilseq", "Illegal byte sequence.";
    Inprogress = 26, "inprogress", "Operation in progress.";
    Intr = 27, "intr", "Interrupted function.";
    Inval = 28, "inval", "Invalid argument.";
    Io = 29, "io", "I/O error.";
    Isconn = 30, "isconn", "Socket is connected.";
    Isdir = 31, "isdir", "Is a directory.";
    Loop = 32, "loop", "Too many levels of symbolic links.";
    Mfile = 33, "mfile", "File descriptor value too large.";
    Mlink = 34, "mlink", "Too many links.";
    Msgsize = 35, "msgsize", "Message too large.";
    Multihop = 36, "multihop", "Reserved.";
    Nametoolong = 37, "nametoolong", "Filename too long.";
    Netdown = 38, "netdown", "Network is down.";
    Netreset = 39, "netreset", "Connection aborted by network.";
    Netunreach = 40, "netunreach", "Network unreachable.";
    Nfile = 41, "nfile", "Too many files open in system.";
    Nobufs = 42, "nobufs", "No buffer space available.";
    Nodev = 43, "nodev", "No such device.";
    Noent = 44, "noent", "No such file or directory.";
    Noexec = 45, "noexec", "Executable file format error.";
    Nolck = 46, "nolck", "No locks available.";
    Nolink = 47, "nolink", "Reserved.";
    Nomem = 48, "nomem", "Not enough space.";
    Nomsg = 49, "nomsg", "No message of the desired type.";
    Noprotoopt = 50, "noprotoopt", "Protocol not available.";
    Nospc = 51, "nospc", "No space left on device.";
    Nosys = 52, "nosys", "Function not supported.";
    Notconn = 53, "notconn", "The socket is not connected.";
    Notdir = 54, "notdir", "Not a directory or a symbolic link to a directory.";
    Notempty = 55, "notempty", "Directory not empty.";
    Notrecoverable = 56, "notrecoverable", "State not recoverable.";
    Notsock = 57, "notsock", "Not a socket.";
    Notsup = 58, "notsup", "Not supported, or operation not supported on socket.";
    Notty = 59, "notty", "Inappropriate I/O control operation.";
    Nxio = 60, "nxio", "No such device or address.";
    Overflow = 61, "overflow", "Value too large to be stored in data type.";
    Ownerdead = 62, "ownerdead", "Previous owner died.";
    Perm = 63, "perm", "Operation not permitted.";
    Pipe = 64, "pipe", "Broken pipe.";
    Proto = 65, "proto", "Protocol error.";
    Protonosupport = 66, "protonosupport", "Protocol not supported.";
    Prototype = 67, "prototype", "Protocol wrong type for socket.";
    Range = 68, "range", "Result too large.";
    Rofs = 69, "rofs", "Read-only file system.";
    Spipe = 70, "spipe", "Invalid seek.";
    Srch = 71, "srch", "No such process.";
    Stale = 72, "stale", "Reserved.";
    Timedout = 73, "timedout", "Connection timed out.";
    Txtbsy = 74, "txtbsy", "Text file busy.";
    Xdev = 75, "xdev", "Cross-device link.";
    Notcapable = 76, "notcapable", "Extension: Capabilities insufficient.";
}

impl Errno {
    /// The raw `u16` value written to the guest.
    #[must_use]
    pub const fn raw(self) -> u16 {
        self as u16
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.message())
    }
}

impl core::error::Error for Errno {}

// === rights ===

/// File descriptor rights (`rights`, a `u64` bit set).
pub mod rights {
    /// The right to invoke `fd_datasync`.
    pub const FD_DATASYNC: u64 = 1 << 0;
    /// The right to invoke `fd_read` and `sock_recv`.
    pub const FD_READ: u64 = 1 << 1;
    /// The right to invoke `fd_seek` (implies `FD_TELL`).
    pub const FD_SEEK: u64 = 1 << 2;
    /// The right to invoke `fd_fdstat_set_flags`.
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    /// The right to invoke `fd_sync`.
    pub const FD_SYNC: u64 = 1 << 4;
    /// The right to invoke `fd_seek` to query the position, or `fd_tell`.
    pub const FD_TELL: u64 = 1 << 5;
    /// The right to invoke `fd_write` and `sock_send`.
    pub const FD_WRITE: u64 = 1 << 6;
    /// The right to invoke `fd_advise`.
    pub const FD_ADVISE: u64 = 1 << 7;
    /// The right to invoke `fd_allocate`.
    pub const FD_ALLOCATE: u64 = 1 << 8;
    /// The right to invoke `path_create_directory`.
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    /// With `PATH_OPEN`, the right to create files with `path_open`.
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    /// The right to invoke `path_link` with the directory as source.
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    /// The right to invoke `path_link` with the directory as target.
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    /// The right to invoke `path_open`.
    pub const PATH_OPEN: u64 = 1 << 13;
    /// The right to invoke `fd_readdir`.
    pub const FD_READDIR: u64 = 1 << 14;
    /// The right to invoke `path_readlink`.
    pub const PATH_READLINK: u64 = 1 << 15;
    /// The right to invoke `path_rename` with the directory as source.
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    /// The right to invoke `path_rename` with the directory as target.
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    /// The right to invoke `path_filestat_get`.
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    /// The right to change a file's size through a path (`path_open` with `TRUNC`).
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    /// The right to invoke `path_filestat_set_times`.
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    /// The right to invoke `fd_filestat_get`.
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    /// The right to invoke `fd_filestat_set_size`.
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    /// The right to invoke `fd_filestat_set_times`.
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    /// The right to invoke `path_symlink`.
    pub const PATH_SYMLINK: u64 = 1 << 24;
    /// The right to invoke `path_remove_directory`.
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    /// The right to invoke `path_unlink_file`.
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    /// The right to subscribe to fd readiness in `poll_oneoff`.
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    /// The right to invoke `sock_shutdown`.
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    /// The right to invoke `sock_accept`.
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// Every defined right.
    pub const ALL: u64 = (1 << 30) - 1;

    /// Rights that mean something on a regular file.
    pub const REGULAR_FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;

    /// Rights that mean something on a directory.
    pub const DIRECTORY: u64 = FD_DATASYNC
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | POLL_FD_READWRITE;

    /// Rights a directory may hand down to what is opened beneath it.
    pub const DIRECTORY_INHERITING: u64 = DIRECTORY | REGULAR_FILE;

    /// Rights of a readable stream (stdin).
    pub const INPUT_STREAM: u64 =
        FD_READ | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;

    /// Rights of a writable stream (stdout, stderr).
    pub const OUTPUT_STREAM: u64 =
        FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// File descriptor flags (`fdflags`, a `u16` bit set).
pub mod fdflags {
    /// Append mode: data written is appended to the end of the file.
    pub const APPEND: u16 = 1 << 0;
    /// Write according to synchronized I/O data integrity completion.
    pub const DSYNC: u16 = 1 << 1;
    /// Non-blocking mode.
    pub const NONBLOCK: u16 = 1 << 2;
    /// Synchronized read I/O operations.
    pub const RSYNC: u16 = 1 << 3;
    /// Write according to synchronized I/O file integrity completion.
    pub const SYNC: u16 = 1 << 4;
    /// Every defined flag.
    pub const ALL: u16 = APPEND | DSYNC | NONBLOCK | RSYNC | SYNC;
}

/// Open flags for `path_open` (`oflags`, a `u16` bit set).
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail if not a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if the file already exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate the file to size 0.
    pub const TRUNC: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = CREAT | DIRECTORY | EXCL | TRUNC;
}

/// Path lookup flags (`lookupflags`, a `u32` bit set).
pub mod lookupflags {
    /// Follow a symbolic link in the last path component.
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// Which timestamps `*_filestat_set_times` changes (`fstflags`, a `u16` bit set).
pub mod fstflags {
    /// Set the access time to the given value.
    pub const ATIM: u16 = 1 << 0;
    /// Set the access time to the current time.
    pub const ATIM_NOW: u16 = 1 << 1;
    /// Set the modification time to the given value.
    pub const MTIM: u16 = 1 << 2;
    /// Set the modification time to the current time.
    pub const MTIM_NOW: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = ATIM | ATIM_NOW | MTIM | MTIM_NOW;
}

/// Flags of a clock subscription (`subclockflags`, a `u16` bit set).
pub mod subclockflags {
    /// The timeout is an absolute time on the clock, not a duration.
    pub const ABSTIME: u16 = 1 << 0;
}

/// Flags of an fd readiness event (`eventrwflags`, a `u16` bit set).
pub mod eventrwflags {
    /// The peer of this socket or pipe has closed or hung up.
    pub const FD_READWRITE_HANGUP: u16 = 1 << 0;
}

// === enumerations ===

macro_rules! wasi_enum {
    ($(#[$m:meta])* $name:ident : $repr:ty { $( $(#[$vm:meta])* $variant:ident = $val:literal, )* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vm])* $variant = $val, )*
        }

        impl $name {
            /// Decodes a raw guest value; `Err(Inval)` for an unknown one.
            pub const fn from_raw(raw: $repr) -> Result<Self, Errno> {
                match raw { $( $val => Ok($name::$variant), )* _ => Err(Errno::Inval) }
            }

            /// The raw value written to the guest.
            #[must_use]
            pub const fn raw(self) -> $repr {
                self as $repr
            }
        }
    };
}

wasi_enum! {
    /// The type of a file descriptor or file (`filetype`, a `u8`).
    Filetype: u8 {
        /// Unknown, or different from any of the other types.
        Unknown = 0,
        /// A block device inode.
        BlockDevice = 1,
        /// A character device inode.
        CharacterDevice = 2,
        /// A directory inode.
        Directory = 3,
        /// A regular file inode.
        RegularFile = 4,
        /// A datagram socket.
        SocketDgram = 5,
        /// A byte-stream socket.
        SocketStream = 6,
        /// A symbolic link inode.
        SymbolicLink = 7,
    }
}

wasi_enum! {
    /// The position relative to which to set the offset (`whence`, a `u8`).
    Whence: u8 {
        /// Seek relative to start-of-file.
        Set = 0,
        /// Seek relative to the current position.
        Cur = 1,
        /// Seek relative to end-of-file.
        End = 2,
    }
}

wasi_enum! {
    /// File access pattern advice (`advice`, a `u8`).
    Advice: u8 {
        /// No advice.
        Normal = 0,
        /// Sequential access.
        Sequential = 1,
        /// Random access.
        Random = 2,
        /// Will be accessed in the near future.
        WillNeed = 3,
        /// Will not be accessed in the near future.
        DontNeed = 4,
        /// Will be accessed only once.
        NoReuse = 5,
    }
}

wasi_enum! {
    /// Identifiers for clocks (`clockid`, a `u32`).
    ClockId: u32 {
        /// Wall-clock time since 1970-01-01T00:00:00Z, in nanoseconds.
        Realtime = 0,
        /// A clock that only moves forward, from an unspecified origin.
        Monotonic = 1,
        /// CPU time of the process.
        ProcessCputime = 2,
        /// CPU time of the thread.
        ThreadCputime = 3,
    }
}

wasi_enum! {
    /// Type of a subscription or event (`eventtype`, a `u8`).
    Eventtype: u8 {
        /// A clock reached its timeout.
        Clock = 0,
        /// An fd has data to read.
        FdRead = 1,
        /// An fd can accept data.
        FdWrite = 2,
    }
}

/// `preopentype::dir`, the only preopen type.
pub const PREOPENTYPE_DIR: u8 = 0;

// === structs ===

/// `filestat`: 64 bytes, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Filestat {
    /// Device ID of the device containing the file.
    pub dev: u64,
    /// File serial number.
    pub ino: u64,
    /// File type.
    pub filetype: u8,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes (for symlinks, the length of the target).
    pub size: u64,
    /// Last access time, ns since the epoch.
    pub atim: u64,
    /// Last modification time, ns since the epoch.
    pub mtim: u64,
    /// Last status change time, ns since the epoch.
    pub ctim: u64,
}

impl Filestat {
    /// Size of the encoding.
    pub const SIZE: usize = 64;

    /// The typed file type (unknown raw values read as `Unknown`).
    #[must_use]
    pub fn file_type(&self) -> Filetype {
        Filetype::from_raw(self.filetype).unwrap_or(Filetype::Unknown)
    }

    /// Little-endian encoding as the guest sees it.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// `fdstat`: 24 bytes, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fdstat {
    /// File type.
    pub filetype: u8,
    /// File descriptor flags.
    pub flags: u16,
    /// Rights that apply to this file descriptor.
    pub rights_base: u64,
    /// Maximum rights of descriptors opened through this one.
    pub rights_inheriting: u64,
}

impl Fdstat {
    /// Size of the encoding.
    pub const SIZE: usize = 24;

    /// Little-endian encoding as the guest sees it.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0] = self.filetype;
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.rights_base.to_le_bytes());
        b[16..24].copy_from_slice(&self.rights_inheriting.to_le_bytes());
        b
    }
}

/// `dirent` header: 24 bytes, followed by the name (not NUL-terminated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent {
    /// Cookie of the next entry.
    pub d_next: u64,
    /// File serial number.
    pub d_ino: u64,
    /// Length of the name that follows.
    pub d_namlen: u32,
    /// File type.
    pub d_type: u8,
}

impl Dirent {
    /// Size of the header encoding.
    pub const SIZE: usize = 24;

    /// Little-endian encoding of the header.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.d_next.to_le_bytes());
        b[8..16].copy_from_slice(&self.d_ino.to_le_bytes());
        b[16..20].copy_from_slice(&self.d_namlen.to_le_bytes());
        b[20] = self.d_type;
        b
    }
}

/// Size of `prestat` (tag `u8` at 0, `pr_name_len` `u32` at 4).
pub const PRESTAT_SIZE: usize = 8;
/// Size of `iovec` / `ciovec` (`buf` `u32` at 0, `buf_len` `u32` at 4).
pub const IOVEC_SIZE: usize = 8;
/// Size of `subscription`.
pub const SUBSCRIPTION_SIZE: usize = 48;
/// Size of `event`.
pub const EVENT_SIZE: usize = 32;

/// A decoded `subscription` (48 bytes): userdata `u64` at 0, tag `u8` at 8,
/// union at 16 (clock: id `u32` at 16, timeout `u64` at 24, precision `u64`
/// at 32, flags `u16` at 40; fd_read/fd_write: fd `u32` at 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Copied into the matching event.
    pub userdata: u64,
    /// What is waited for.
    pub kind: SubscriptionKind,
}

/// The union of a [`Subscription`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// Wait for a clock.
    Clock {
        /// Raw clock id (validated when polled).
        id: u32,
        /// Absolute time or relative timeout, in ns.
        timeout: u64,
        /// Accepted slack, in ns.
        precision: u64,
        /// `subclockflags`.
        flags: u16,
    },
    /// Wait until `fd` is readable.
    FdRead(u32),
    /// Wait until `fd` is writable.
    FdWrite(u32),
}

impl Subscription {
    /// Decodes 48 bytes; `Err(Inval)` for an unknown tag.
    pub fn decode(b: &[u8; SUBSCRIPTION_SIZE]) -> Result<Self, Errno> {
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let u32_at = |o: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&b[o..o + 4]);
            u32::from_le_bytes(a)
        };
        let userdata = u64_at(0);
        let kind = match Eventtype::from_raw(b[8])? {
            Eventtype::Clock => SubscriptionKind::Clock {
                id: u32_at(16),
                timeout: u64_at(24),
                precision: u64_at(32),
                flags: u16::from_le_bytes([b[40], b[41]]),
            },
            Eventtype::FdRead => SubscriptionKind::FdRead(u32_at(16)),
            Eventtype::FdWrite => SubscriptionKind::FdWrite(u32_at(16)),
        };
        Ok(Subscription { userdata, kind })
    }
}

/// An `event` (32 bytes): userdata `u64` at 0, error `u16` at 8, type `u8`
/// at 10, fd_readwrite.nbytes `u64` at 16, fd_readwrite.flags `u16` at 24.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// From the subscription.
    pub userdata: u64,
    /// Error for this event.
    pub error: Errno,
    /// Which subscription type fired.
    pub kind: Eventtype,
    /// Bytes available (fd events).
    pub nbytes: u64,
    /// `eventrwflags` (fd events).
    pub flags: u16,
}

impl Event {
    /// Little-endian encoding.
    #[must_use]
    pub fn encode(&self) -> [u8; EVENT_SIZE] {
        let mut b = [0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.raw().to_le_bytes());
        b[10] = self.kind.raw();
        b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&self.flags.to_le_bytes());
        b
    }
}
