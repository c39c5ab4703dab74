//! A test's `NAME.json` ([`Spec`]) and its parser ([`parse_spec`]).

use std::fmt;

use serde_json::Value;

/// What a test expects, from its JSON file; every key is optional and
/// defaults as [`Spec::default`] (no arguments, an empty environment, no
/// fixture, exit code 0, any output).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spec {
    /// argv\[1..\] (argv\[0\] is the module's file name).
    pub args: Vec<String>,
    /// The guest environment, exactly, in the file's order. Every name is
    /// non-empty and holds no `=`.
    pub env: Vec<(String, String)>,
    /// Fixture directory, relative to the test's directory, preopened as
    /// `/`.
    pub root: Option<String>,
    /// Expected exit status.
    pub exit_code: i32,
    /// Expected prefix of stdout.
    pub stdout: String,
    /// Expected prefix of stderr.
    pub stderr: String,
}

/// A malformed or unsupported test specification.
#[derive(Debug)]
pub enum SpecError {
    /// Not JSON.
    Json(serde_json::Error),
    /// The top level is JSON but not an object.
    NotAnObject,
    /// A key has the wrong type (or, for `exit_code`, is not an `i32`).
    Field(&'static str),
    /// The operation-based format, which the runners do not implement.
    Operations,
    /// An `env` name that is empty or holds `=` (it could not be passed
    /// as `NAME=value`).
    EnvName(String),
}

// === impl SpecError ===

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Json(e) => write!(f, "bad JSON: {e}"),
            SpecError::NotAnObject => f.write_str("the top level is not an object"),
            SpecError::Field(key) => write!(f, "key `{key}` has the wrong type"),
            SpecError::Operations => f.write_str("operation-based specs are not supported"),
            SpecError::EnvName(name) => write!(f, "environment variable name `{name}` is empty or holds `=`"),
        }
    }
}

impl std::error::Error for SpecError {}

// === parsing ===

/// The string `value`, or [`SpecError::Field`] naming `key`.
fn string(value: &Value, key: &'static str) -> Result<String, SpecError> {
    value.as_str().map(str::to_owned).ok_or(SpecError::Field(key))
}

/// Parses a legacy JSON test specification.
///
/// # Errors
/// [`SpecError`] for malformed JSON, a top level that is not an object, a
/// wrongly typed key, an `exit_code` outside `i32`, an `env` name that is
/// empty or holds `=`, or the operation-based format.
pub fn parse_spec(json: &str) -> Result<Spec, SpecError> {
    let value: Value = serde_json::from_str(json).map_err(SpecError::Json)?;
    let object = value.as_object().ok_or(SpecError::NotAnObject)?;
    if object.contains_key("operations") {
        return Err(SpecError::Operations);
    }
    let mut spec = Spec::default();
    if let Some(args) = object.get("args") {
        let list = args.as_array().ok_or(SpecError::Field("args"))?;
        spec.args = list.iter().map(|arg| string(arg, "args")).collect::<Result<_, _>>()?;
    }
    if let Some(env) = object.get("env") {
        let map = env.as_object().ok_or(SpecError::Field("env"))?;
        spec.env = map.iter().map(|(name, value)| Ok((name.clone(), string(value, "env")?))).collect::<Result<_, SpecError>>()?;
        if let Some((name, _)) = spec.env.iter().find(|(name, _)| name.is_empty() || name.contains('=')) {
            return Err(SpecError::EnvName(name.clone()));
        }
    }
    match object.get("root") {
        None | Some(Value::Null) => {}
        Some(root) => spec.root = Some(string(root, "root")?),
    }
    if let Some(code) = object.get("exit_code") {
        spec.exit_code = code.as_i64().and_then(|code| i32::try_from(code).ok()).ok_or(SpecError::Field("exit_code"))?;
    }
    if let Some(text) = object.get("stdout") {
        spec.stdout = string(text, "stdout")?;
    }
    if let Some(text) = object.get("stderr") {
        spec.stderr = string(text, "stderr")?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_key() {
        assert_eq!(parse_spec("{}").unwrap(), Spec::default());
        let spec = parse_spec(
            r#"{"root": "fs-tests.dir", "args": ["a", "b"], "env": {"K": "v", "E": ""}, "exit_code": 3, "stdout": "o", "stderr": "e"}"#,
        )
        .unwrap();
        assert_eq!(spec.root.as_deref(), Some("fs-tests.dir"));
        assert_eq!(spec.args, ["a", "b"]);
        let mut env = spec.env.clone();
        env.sort();
        assert_eq!(env, [("E".to_owned(), String::new()), ("K".to_owned(), "v".to_owned())]);
        assert_eq!((spec.exit_code, spec.stdout.as_str(), spec.stderr.as_str()), (3, "o", "e"));
        assert_eq!(parse_spec(r#"{"root": null, "exit_code": -2147483648}"#).unwrap(), Spec { exit_code: i32::MIN, ..Spec::default() });
        // Keys the format does not know are ignored, as upstream's runner does.
        assert_eq!(parse_spec(r#"{"comment": 1}"#).unwrap(), Spec::default());
    }

    #[test]
    fn refuses_what_is_not_a_spec() {
        assert!(matches!(parse_spec("nope"), Err(SpecError::Json(_))));
        assert!(matches!(parse_spec(""), Err(SpecError::Json(_))));
        assert!(matches!(parse_spec("[]"), Err(SpecError::NotAnObject)));
        assert!(matches!(parse_spec("3"), Err(SpecError::NotAnObject)));
        assert!(matches!(parse_spec(r#"{"operations": []}"#), Err(SpecError::Operations)));
        assert!(matches!(parse_spec(r#"{"args": ["a"], "operations": null}"#), Err(SpecError::Operations)));
    }

    #[test]
    fn refuses_each_wrongly_typed_key() {
        for (json, key) in [
            (r#"{"args": "x"}"#, "args"),
            (r#"{"args": ["a", 1]}"#, "args"),
            (r#"{"env": ["K=v"]}"#, "env"),
            (r#"{"env": {"K": 1}}"#, "env"),
            (r#"{"root": 7}"#, "root"),
            (r#"{"exit_code": "3"}"#, "exit_code"),
            (r#"{"exit_code": 1.5}"#, "exit_code"),
            (r#"{"exit_code": 2147483648}"#, "exit_code"),
            (r#"{"stdout": ["o"]}"#, "stdout"),
            (r#"{"stderr": null}"#, "stderr"),
        ] {
            match parse_spec(json) {
                Err(SpecError::Field(got)) => assert_eq!(got, key, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_env_names_that_cannot_be_passed() {
        for (json, name) in [(r#"{"env": {"A=B": "x"}}"#, "A=B"), (r#"{"env": {"": "x"}}"#, ""), (r#"{"env": {"=": ""}}"#, "=")] {
            match parse_spec(json) {
                Err(SpecError::EnvName(got)) => assert_eq!(got, name, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        // `=` in a value is fine.
        assert_eq!(parse_spec(r#"{"env": {"A": "B=C"}}"#).unwrap().env, [("A".to_owned(), "B=C".to_owned())]);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let message = |json: &str| parse_spec(json).unwrap_err().to_string();
        assert!(message("nope").starts_with("bad JSON: "));
        assert_eq!(message("[]"), "the top level is not an object");
        assert_eq!(message(r#"{"args": "x"}"#), "key `args` has the wrong type");
        assert_eq!(message(r#"{"operations": []}"#), "operation-based specs are not supported");
        assert_eq!(message(r#"{"env": {"A=B": "x"}}"#), "environment variable name `A=B` is empty or holds `=`");
    }
}
