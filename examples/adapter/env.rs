//! Settings from the environment, for the example servers (the Node echo server's convention:
//! `BIND_ADDRESS`, `BIND_PORT`, ...).

#![allow(dead_code)] // each example uses part of this module

use std::str::FromStr;

/// Reads `name` from the environment, or `default` if unset.
///
/// # Errors
///
/// A message naming the variable and its value when the value does not parse.
pub fn variable<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => value.trim().parse().map_err(|_| format!("invalid {name}: {value:?}")),
    }
}
