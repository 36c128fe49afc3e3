//! A strict fake OAuth 2.0 authorization server.
