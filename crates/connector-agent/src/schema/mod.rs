//! One JSON Schema compiled into each dialect.
