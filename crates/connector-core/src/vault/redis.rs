//! The Redis store.

/// A store on Redis (single node or cluster).
#[derive(Debug)]
pub struct RedisStore {}
