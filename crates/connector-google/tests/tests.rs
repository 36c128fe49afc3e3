#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod calendar;
mod common;
mod drive;
mod gmail;
mod http;
