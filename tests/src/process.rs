//! The relay binary as a child process: where it is, running it for a while
//! ([`RelayProcess`], killed on drop) or to the end (`check`, `status`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `outbox-relay` binary built next to this test binary.
pub fn relay_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("OUTBOX_RELAY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("outbox-relay");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build --bins)",
        bin.display()
    );
    bin
}

/// A relay child process; killed on drop.
pub struct RelayProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl RelayProcess {
    pub fn spawn(args: &[&str], log: &Path) -> RelayProcess {
        Self::spawn_with_env(args, log, &[])
    }

    /// [`RelayProcess::spawn`] with extra environment variables (e.g. AWS credentials).
    pub fn spawn_with_env(args: &[&str], log: &Path, env: &[(String, String)]) -> RelayProcess {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(relay_binary())
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn outbox-relay");
        RelayProcess {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn run(config: &Path, log: &Path) -> RelayProcess {
        Self::spawn(&["run", "--config", config.to_str().unwrap()], log)
    }

    /// `run --config` with extra environment variables.
    pub fn run_with_env(config: &Path, log: &Path, env: &[(String, String)]) -> RelayProcess {
        Self::spawn_with_env(&["run", "--config", config.to_str().unwrap()], log, env)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful).
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Peak resident memory (VmHWM) in KiB, while the process lives.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the binary to completion (for `check`); returns (exit code, stdout, stderr).
pub fn run_to_end(args: &[&str]) -> (i32, String, String) {
    run_to_end_with_env(args, &[])
}

/// [`run_to_end`] with extra environment variables.
pub fn run_to_end_with_env(args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let out = Command::new(relay_binary())
        .args(args)
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run outbox-relay");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
