#![doc = include_str!("../README.md")]

pub mod messages;
pub mod names;
pub mod schema;
