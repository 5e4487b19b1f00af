//! The NATS JetStream sink against a real `nats-server -js`: one server per test on free
//! loopback ports, with its own store directory, killed and removed on drop.
//!
//! Needs `nats-server` (2.10+): `$NATS_SERVER_BIN`, else the path scripts/install-deps.sh
//! installs it to. Without it every test fails, saying so.

mod server;
mod support;

mod auth;
mod failures;
mod publish;
mod streams;
