//! Oneshot tests.

use super::oneshot::{self, RecvError};
use crate::host::Runtime;

#[test]
fn send_then_receive() {
    let runtime = Runtime::current_thread();
    let (tx, rx) = oneshot::channel();
    tx.send(5).unwrap();
    assert_eq!(runtime.block_on(rx), Ok(5));
}

#[test]
fn receive_then_send_from_another_thread() {
    let runtime = Runtime::multi_thread(2).unwrap();
    let (tx, rx) = oneshot::channel();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(core::time::Duration::from_millis(2));
        tx.send(alloc::string::String::from("hi")).unwrap();
    });
    assert_eq!(runtime.block_on(rx).as_deref(), Ok("hi"));
    sender.join().unwrap();
}

#[test]
fn dropped_sender_errors() {
    let runtime = Runtime::current_thread();
    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(runtime.block_on(rx), Err(RecvError));
}

#[test]
fn send_to_dropped_receiver_returns_value() {
    let (tx, rx) = oneshot::channel();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(3), Err(3));
}
