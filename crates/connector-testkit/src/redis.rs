//! Spawns a real `redis-server` on a free loopback port.
