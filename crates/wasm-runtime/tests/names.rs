//! Function names come from the module's `name` section, read on demand.

use hypha_wasm::{Config, Engine, Module};

#[test]
fn function_names_are_read_from_the_name_section() {
    let engine = Engine::host(Config::default()).unwrap();
    let named = wat::parse_str(r#"(module (func $first) (func) (func $third) (func $fourth (export "f")))"#).unwrap();
    let module = Module::new(&engine, &named).unwrap();
    assert_eq!(module.func_name(0), Some("first"));
    assert_eq!(module.func_name(1), None, "no name given");
    assert_eq!(module.func_name(2), Some("third"));
    assert_eq!(module.func_name(3), Some("fourth"));
    assert_eq!(module.func_name(99), None);
    assert_eq!(module.custom_sections("name").count(), 1);
    let plain = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
    assert_eq!(Module::new(&engine, &plain).unwrap().func_name(0), None);
}

#[test]
fn a_damaged_name_section_is_not_an_error() {
    let engine = Engine::host(Config::default()).unwrap();
    let mut bytes = wat::parse_str(r#"(module (func $a) (func $b))"#).unwrap();
    // The name section is last: cut its final byte (the end of "b") and
    // shrink the section size to match, so the module stays well formed.
    let at = bytes.windows(4).rposition(|w| w == b"name").unwrap();
    let size_at = at - 2; // section id 0, then the size (one LEB byte here)
    assert!(bytes[size_at] < 0x80);
    bytes[size_at] -= 1;
    bytes.pop();
    // The function-names subsection now runs past its section: the
    // module still loads, and no name is made up from the damage.
    let module = Module::new(&engine, &bytes).unwrap();
    assert_eq!((module.func_name(0), module.func_name(1)), (None, None));
}
