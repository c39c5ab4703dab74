//! The script format: a [`Script`] is a list of [`File`]s, each a list of
//! [`Command`]s, encoded compactly in little-endian binary.
//!
//! Layout: magic `HWSC`, version (u32), file count (u32), then per file its
//! suite and name (strings), command count (u32) and the commands. A
//! string or byte blob is a u32 length and the bytes; an optional string
//! is a 0/1 byte then the string; every command, action, value and
//! expectation starts with a tag byte.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

const MAGIC: &[u8; 4] = b"HWSC";
const VERSION: u32 = 1;

/// A whole script: the files of one or more suites.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    /// The files, in order.
    pub files: Vec<File>,
}

/// One `.wast` file converted.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// The suite it belongs to (`core-wasm2`, `core-3.0`).
    pub suite: String,
    /// `dir/file.wast`.
    pub name: String,
    /// The commands, one per directive of the file.
    pub commands: Vec<Command>,
}

/// One directive of a `.wast` file with the source line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// 1-based line in the `.wast` file.
    pub line: u32,
    /// What to do.
    pub kind: CommandKind,
}

/// What a command does.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    /// Compile and instantiate; becomes the current module (and `name`).
    Module { name: Option<String>, bytes: Vec<u8> },
    /// Compile only; instantiated later by [`CommandKind::ModuleInstance`].
    ModuleDefinition { name: Option<String>, bytes: Vec<u8> },
    /// Instantiate a module definition.
    ModuleInstance { instance: Option<String>, module: Option<String> },
    /// Make a module's exports importable as `as_name`.
    Register { as_name: String, module: Option<String> },
    /// Run an action; it must not fail.
    Action(Action),
    /// The action returns values matching `results`.
    AssertReturn { action: Action, results: Vec<Expected> },
    /// The action traps with a message matching `message`
    /// (`assert_trap`, and `assert_uninstantiable` via [`Action::Instantiate`]).
    AssertTrap { action: Action, message: String },
    /// The action exhausts the call stack.
    AssertExhaustion { action: Action, message: String },
    /// The binary module must be rejected by validation.
    AssertInvalid { bytes: Vec<u8>, message: String },
    /// The binary module must be rejected by decoding.
    AssertMalformed { bytes: Vec<u8>, message: String },
    /// A text-format module that is malformed as text: the converter
    /// checked on the host that it does not parse/encode, so it counts as
    /// passed without running anything (there is no binary to give the
    /// runtime).
    MalformedText { message: String },
    /// Instantiation must fail to link.
    AssertUnlinkable { bytes: Vec<u8>, message: String },
    /// Something the converter cannot express (counted as a failure,
    /// with the reason).
    Unsupported { reason: String },
}

/// Something to execute.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Call export `name` of `module` (or the current module).
    Invoke { module: Option<String>, name: String, args: Vec<Value> },
    /// Read global export `name`.
    Get { module: Option<String>, name: String },
    /// Instantiate a module (for `assert_trap`/`assert_uninstantiable`
    /// and `assert_return` on a module).
    Instantiate { bytes: Vec<u8> },
}

/// An argument value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// i32.
    I32(i32),
    /// i64.
    I64(i64),
    /// f32 bits.
    F32(u32),
    /// f64 bits.
    F64(u64),
    /// v128.
    V128(u128),
    /// A null funcref.
    NullFuncRef,
    /// A null externref.
    NullExternRef,
    /// `ref.extern N`: a host reference carrying `N`.
    ExternRef(u32),
}

/// A float expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatPattern<T> {
    /// Exactly these bits.
    Bits(T),
    /// A canonical NaN (any sign).
    CanonicalNan,
    /// An arithmetic NaN (quiet bit set, any payload, any sign).
    ArithmeticNan,
}

/// A v128 expectation, lane by lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V128Pattern {
    /// Integer lanes: exactly these 128 bits.
    Bits(u128),
    /// Four f32 lanes.
    F32x4([FloatPattern<u32>; 4]),
    /// Two f64 lanes.
    F64x2([FloatPattern<u64>; 2]),
}

/// An expected result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// i32.
    I32(i32),
    /// i64.
    I64(i64),
    /// f32.
    F32(FloatPattern<u32>),
    /// f64.
    F64(FloatPattern<u64>),
    /// v128.
    V128(V128Pattern),
    /// Any null reference.
    RefNull,
    /// Any non-null funcref.
    RefFunc,
    /// A non-null externref, carrying `Some(N)` if given.
    RefExtern(Option<u32>),
    /// Any one of these.
    Either(Vec<Expected>),
}

/// Why a script could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a script (bad magic).
    BadMagic,
    /// A different format version.
    Version(u32),
    /// The data ends in the middle of an item.
    Truncated,
    /// An unknown tag byte at this offset.
    BadTag(usize),
    /// A string is not UTF-8 (at this offset).
    BadString(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadMagic => f.write_str("not a spec script (bad magic)"),
            DecodeError::Version(v) => write!(f, "script format version {v}, expected {VERSION}"),
            DecodeError::Truncated => f.write_str("script truncated"),
            DecodeError::BadTag(at) => write!(f, "unknown tag at offset {at}"),
            DecodeError::BadString(at) => write!(f, "string at offset {at} is not UTF-8"),
        }
    }
}

impl core::error::Error for DecodeError {}

// === encoding ===

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        // Scripts are built on the host from files far below 4 GiB.
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn value(&mut self, v: &Value) {
        match *v {
            Value::I32(x) => {
                self.u8(0);
                self.u32(x.cast_unsigned());
            }
            Value::I64(x) => {
                self.u8(1);
                self.u64(x.cast_unsigned());
            }
            Value::F32(x) => {
                self.u8(2);
                self.u32(x);
            }
            Value::F64(x) => {
                self.u8(3);
                self.u64(x);
            }
            Value::V128(x) => {
                self.u8(4);
                self.u128(x);
            }
            Value::NullFuncRef => self.u8(5),
            Value::NullExternRef => self.u8(6),
            Value::ExternRef(n) => {
                self.u8(7);
                self.u32(n);
            }
        }
    }
    fn f32p(&mut self, p: FloatPattern<u32>) {
        match p {
            FloatPattern::Bits(b) => {
                self.u8(0);
                self.u32(b);
            }
            FloatPattern::CanonicalNan => self.u8(1),
            FloatPattern::ArithmeticNan => self.u8(2),
        }
    }
    fn f64p(&mut self, p: FloatPattern<u64>) {
        match p {
            FloatPattern::Bits(b) => {
                self.u8(0);
                self.u64(b);
            }
            FloatPattern::CanonicalNan => self.u8(1),
            FloatPattern::ArithmeticNan => self.u8(2),
        }
    }
    fn expected(&mut self, e: &Expected) {
        match e {
            Expected::I32(x) => {
                self.u8(0);
                self.u32(x.cast_unsigned());
            }
            Expected::I64(x) => {
                self.u8(1);
                self.u64(x.cast_unsigned());
            }
            Expected::F32(p) => {
                self.u8(2);
                self.f32p(*p);
            }
            Expected::F64(p) => {
                self.u8(3);
                self.f64p(*p);
            }
            Expected::V128(V128Pattern::Bits(b)) => {
                self.u8(4);
                self.u128(*b);
            }
            Expected::V128(V128Pattern::F32x4(lanes)) => {
                self.u8(5);
                for p in lanes {
                    self.f32p(*p);
                }
            }
            Expected::V128(V128Pattern::F64x2(lanes)) => {
                self.u8(6);
                for p in lanes {
                    self.f64p(*p);
                }
            }
            Expected::RefNull => self.u8(7),
            Expected::RefFunc => self.u8(8),
            Expected::RefExtern(n) => {
                self.u8(9);
                match n {
                    Some(n) => {
                        self.u8(1);
                        self.u32(*n);
                    }
                    None => self.u8(0),
                }
            }
            Expected::Either(options) => {
                self.u8(10);
                self.len(options.len());
                for o in options {
                    self.expected(o);
                }
            }
        }
    }
    fn action(&mut self, a: &Action) {
        match a {
            Action::Invoke { module, name, args } => {
                self.u8(0);
                self.opt_str(module.as_deref());
                self.str(name);
                self.len(args.len());
                for v in args {
                    self.value(v);
                }
            }
            Action::Get { module, name } => {
                self.u8(1);
                self.opt_str(module.as_deref());
                self.str(name);
            }
            Action::Instantiate { bytes } => {
                self.u8(2);
                self.bytes(bytes);
            }
        }
    }
    fn command(&mut self, c: &Command) {
        self.u32(c.line);
        match &c.kind {
            CommandKind::Module { name, bytes } => {
                self.u8(0);
                self.opt_str(name.as_deref());
                self.bytes(bytes);
            }
            CommandKind::ModuleDefinition { name, bytes } => {
                self.u8(1);
                self.opt_str(name.as_deref());
                self.bytes(bytes);
            }
            CommandKind::ModuleInstance { instance, module } => {
                self.u8(2);
                self.opt_str(instance.as_deref());
                self.opt_str(module.as_deref());
            }
            CommandKind::Register { as_name, module } => {
                self.u8(3);
                self.str(as_name);
                self.opt_str(module.as_deref());
            }
            CommandKind::Action(a) => {
                self.u8(4);
                self.action(a);
            }
            CommandKind::AssertReturn { action, results } => {
                self.u8(5);
                self.action(action);
                self.len(results.len());
                for e in results {
                    self.expected(e);
                }
            }
            CommandKind::AssertTrap { action, message } => {
                self.u8(6);
                self.action(action);
                self.str(message);
            }
            CommandKind::AssertExhaustion { action, message } => {
                self.u8(7);
                self.action(action);
                self.str(message);
            }
            CommandKind::AssertInvalid { bytes, message } => {
                self.u8(8);
                self.bytes(bytes);
                self.str(message);
            }
            CommandKind::AssertMalformed { bytes, message } => {
                self.u8(9);
                self.bytes(bytes);
                self.str(message);
            }
            CommandKind::MalformedText { message } => {
                self.u8(10);
                self.str(message);
            }
            CommandKind::AssertUnlinkable { bytes, message } => {
                self.u8(11);
                self.bytes(bytes);
                self.str(message);
            }
            CommandKind::Unsupported { reason } => {
                self.u8(12);
                self.str(reason);
            }
        }
    }
}

impl Script {
    /// The binary form.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        w.len(self.files.len());
        for file in &self.files {
            w.str(&file.suite);
            w.str(&file.name);
            w.len(file.commands.len());
            for c in &file.commands {
                w.command(c);
            }
        }
        w.0
    }

    /// Reads the binary form.
    ///
    /// # Errors
    /// A [`DecodeError`] for anything that is not a well-formed script.
    pub fn decode(data: &[u8]) -> Result<Script, DecodeError> {
        let mut r = Reader { data, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let count = r.len()?;
        let mut files = Vec::new();
        for _ in 0..count {
            let suite = r.string()?;
            let name = r.string()?;
            let n = r.len()?;
            let mut commands = Vec::new();
            for _ in 0..n {
                commands.push(r.command()?);
            }
            files.push(File { suite, name, commands });
        }
        Ok(Script { files })
    }
}

// === decoding ===

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or(DecodeError::Truncated)?;
        let slice = self.data.get(self.at..end).ok_or(DecodeError::Truncated)?;
        self.at = end;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn tag(&mut self) -> Result<(u8, usize), DecodeError> {
        let at = self.at;
        Ok((self.u8()?, at))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    fn len(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.u32()?).map_err(|_| DecodeError::Truncated)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let at = self.at;
        String::from_utf8(self.bytes()?).map_err(|_| DecodeError::BadString(at))
    }
    fn opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.tag()? {
            (0, _) => Ok(None),
            (1, _) => Ok(Some(self.string()?)),
            (_, at) => Err(DecodeError::BadTag(at)),
        }
    }
    fn value(&mut self) -> Result<Value, DecodeError> {
        Ok(match self.tag()? {
            (0, _) => Value::I32(self.u32()?.cast_signed()),
            (1, _) => Value::I64(self.u64()?.cast_signed()),
            (2, _) => Value::F32(self.u32()?),
            (3, _) => Value::F64(self.u64()?),
            (4, _) => Value::V128(self.u128()?),
            (5, _) => Value::NullFuncRef,
            (6, _) => Value::NullExternRef,
            (7, _) => Value::ExternRef(self.u32()?),
            (_, at) => return Err(DecodeError::BadTag(at)),
        })
    }
    fn f32p(&mut self) -> Result<FloatPattern<u32>, DecodeError> {
        Ok(match self.tag()? {
            (0, _) => FloatPattern::Bits(self.u32()?),
            (1, _) => FloatPattern::CanonicalNan,
            (2, _) => FloatPattern::ArithmeticNan,
            (_, at) => return Err(DecodeError::BadTag(at)),
        })
    }
    fn f64p(&mut self) -> Result<FloatPattern<u64>, DecodeError> {
        Ok(match self.tag()? {
            (0, _) => FloatPattern::Bits(self.u64()?),
            (1, _) => FloatPattern::CanonicalNan,
            (2, _) => FloatPattern::ArithmeticNan,
            (_, at) => return Err(DecodeError::BadTag(at)),
        })
    }
    fn expected(&mut self) -> Result<Expected, DecodeError> {
        Ok(match self.tag()? {
            (0, _) => Expected::I32(self.u32()?.cast_signed()),
            (1, _) => Expected::I64(self.u64()?.cast_signed()),
            (2, _) => Expected::F32(self.f32p()?),
            (3, _) => Expected::F64(self.f64p()?),
            (4, _) => Expected::V128(V128Pattern::Bits(self.u128()?)),
            (5, _) => Expected::V128(V128Pattern::F32x4([self.f32p()?, self.f32p()?, self.f32p()?, self.f32p()?])),
            (6, _) => Expected::V128(V128Pattern::F64x2([self.f64p()?, self.f64p()?])),
            (7, _) => Expected::RefNull,
            (8, _) => Expected::RefFunc,
            (9, _) => Expected::RefExtern(match self.tag()? {
                (0, _) => None,
                (1, _) => Some(self.u32()?),
                (_, at) => return Err(DecodeError::BadTag(at)),
            }),
            (10, _) => {
                let n = self.len()?;
                let mut options = Vec::new();
                for _ in 0..n {
                    options.push(self.expected()?);
                }
                Expected::Either(options)
            }
            (_, at) => return Err(DecodeError::BadTag(at)),
        })
    }
    fn action(&mut self) -> Result<Action, DecodeError> {
        Ok(match self.tag()? {
            (0, _) => {
                let module = self.opt_string()?;
                let name = self.string()?;
                let n = self.len()?;
                let mut args = Vec::new();
                for _ in 0..n {
                    args.push(self.value()?);
                }
                Action::Invoke { module, name, args }
            }
            (1, _) => Action::Get { module: self.opt_string()?, name: self.string()? },
            (2, _) => Action::Instantiate { bytes: self.bytes()? },
            (_, at) => return Err(DecodeError::BadTag(at)),
        })
    }
    fn command(&mut self) -> Result<Command, DecodeError> {
        let line = self.u32()?;
        let kind = match self.tag()? {
            (0, _) => CommandKind::Module { name: self.opt_string()?, bytes: self.bytes()? },
            (1, _) => CommandKind::ModuleDefinition { name: self.opt_string()?, bytes: self.bytes()? },
            (2, _) => CommandKind::ModuleInstance { instance: self.opt_string()?, module: self.opt_string()? },
            (3, _) => CommandKind::Register { as_name: self.string()?, module: self.opt_string()? },
            (4, _) => CommandKind::Action(self.action()?),
            (5, _) => {
                let action = self.action()?;
                let n = self.len()?;
                let mut results = Vec::new();
                for _ in 0..n {
                    results.push(self.expected()?);
                }
                CommandKind::AssertReturn { action, results }
            }
            (6, _) => CommandKind::AssertTrap { action: self.action()?, message: self.string()? },
            (7, _) => CommandKind::AssertExhaustion { action: self.action()?, message: self.string()? },
            (8, _) => CommandKind::AssertInvalid { bytes: self.bytes()?, message: self.string()? },
            (9, _) => CommandKind::AssertMalformed { bytes: self.bytes()?, message: self.string()? },
            (10, _) => CommandKind::MalformedText { message: self.string()? },
            (11, _) => CommandKind::AssertUnlinkable { bytes: self.bytes()?, message: self.string()? },
            (12, _) => CommandKind::Unsupported { reason: self.string()? },
            (_, at) => return Err(DecodeError::BadTag(at)),
        };
        Ok(Command { line, kind })
    }
}
