//! Tool calls read from model responses, tool results built for them.
