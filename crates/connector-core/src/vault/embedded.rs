//! The embedded store: one `redb` file.

/// A store in one crash-safe `redb` file.
#[derive(Debug)]
pub struct EmbeddedStore {}
