//! Every check against a real, throwaway PostgreSQL 15 cluster (one per test).
//!
//! Each test sets the database up with the DBA scripts from `sql/` — sent
//! verbatim through `batch_execute`, as the demo does — breaks one thing,
//! asserts that exactly the expected checks FAIL, then runs the finding's own
//! fix SQL and asserts that everything passes: so the fixes are proven too.
//!
//! Needs the PostgreSQL 15 server binaries (Debian: `postgresql-15`; override
//! the directory with `PG_BIN`). Runs the server as `postgres` via `runuser`
//! when the tests run as root.

mod cluster;
mod support;

mod privileges;
mod setup;
mod slots;
