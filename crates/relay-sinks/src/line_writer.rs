//! One ordered writer thread for JSON lines (file, stdout, dead letters).
//!
//! Lines are taken in the order they were queued, written in batches and made durable
//! (`fsync` for files) before every line of the batch is acked. A failed write is rolled
//! back to the last durable length (so no torn line stays behind) and retried with capped
//! exponential backoff; the writer never skips or reorders, so a failing disk stalls the
//! confirmed LSN instead of losing events.

use bytes::Bytes;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use relay_contracts::{Backoff, Outcome};

const MAX_BATCH_LINES: usize = 4096;
const MAX_BATCH_BYTES: usize = 8 << 20;
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

fn write_backoff() -> Backoff {
    Backoff {
        initial: BACKOFF_START,
        max: BACKOFF_MAX,
        jitter: Backoff::DEFAULT_JITTER,
    }
}

pub(crate) struct Job {
    pub line: Bytes,
    pub done: oneshot::Sender<Outcome>,
}

pub(crate) enum Target {
    File {
        file: File,
        path: PathBuf,
        good_len: u64,
    },
    Stdout,
}

impl Target {
    /// Open `path` for appending, removing a torn last line a crash may have left.
    pub fn open_file(path: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let len = file.metadata()?.len();
        let good_len = complete_prefix_len(&mut file, len)?;
        if good_len < len {
            file.set_len(good_len)?;
            file.sync_data()?;
            tracing::warn!(
                path = %path.display(),
                removed_bytes = len - good_len,
                "removed a torn last line left by an earlier crash"
            );
        }
        Ok(Target::File {
            file,
            path: path.to_path_buf(),
            good_len,
        })
    }

    fn write_batch(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Target::File { file, good_len, .. } => {
                file.write_all(buf)?;
                file.sync_data()?;
                *good_len += buf.len() as u64;
                Ok(())
            }
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(buf)?;
                out.flush()
            }
        }
    }

    fn roll_back(&mut self) {
        if let Target::File { file, good_len, .. } = self {
            let _ = file.set_len(*good_len);
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::File { path, .. } => path.display().to_string(),
            Target::Stdout => "stdout".into(),
        }
    }
}

/// Length of the file up to and including its last newline.
fn complete_prefix_len(file: &mut File, len: u64) -> std::io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let n = usize::try_from(end - start).unwrap_or(buf.len());
        file.seek(SeekFrom::Start(start))?;
        let chunk = &mut buf[..n];
        file.read_exact(chunk)?;
        if let Some(pos) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + pos as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Start the writer thread; the returned sender queues lines.
pub(crate) fn spawn(name: String, mut target: Target) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let thread_name = format!("sink-{name}");
    let spawned = std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let mut buf = Vec::with_capacity(64 * 1024);
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                let mut bytes = batch[0].line.len();
                while batch.len() < MAX_BATCH_LINES && bytes < MAX_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(job) => {
                            bytes += job.line.len();
                            batch.push(job);
                        }
                        Err(_) => break,
                    }
                }
                buf.clear();
                for job in &batch {
                    buf.extend_from_slice(&job.line);
                    buf.push(b'\n');
                }
                let mut retry = write_backoff().retry();
                while let Err(e) = target.write_batch(&buf) {
                    target.roll_back();
                    let delay = retry.next_delay();
                    tracing::warn!(
                        sink = %name,
                        target = %target.describe(),
                        error = %e,
                        retry_in = ?delay,
                        "write failed; retrying (the confirmed LSN waits)"
                    );
                    std::thread::sleep(delay);
                }
                if buf.capacity() > 4 * MAX_BATCH_BYTES {
                    buf = Vec::with_capacity(64 * 1024);
                }
                for job in batch {
                    let _ = job.done.send(Outcome::Acked);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start a sink writer thread");
    }
    tx
}

/// Queue the lines of a batch, in order, and get a future of their outcomes.
pub(crate) fn enqueue_all(
    tx: &mpsc::UnboundedSender<Job>,
    lines: impl IntoIterator<Item = Bytes>,
) -> futures::future::BoxFuture<'static, Vec<Outcome>> {
    let waits: Vec<_> = lines.into_iter().map(|line| enqueue(tx, line)).collect();
    Box::pin(futures::future::join_all(waits))
}

/// Queue a line and get a future of its outcome.
pub(crate) fn enqueue(
    tx: &mpsc::UnboundedSender<Job>,
    line: Bytes,
) -> futures::future::BoxFuture<'static, Outcome> {
    let (done, rx) = oneshot::channel();
    let queued = tx.send(Job { line, done }).is_ok();
    Box::pin(async move {
        if !queued {
            return Outcome::Retryable("writer thread has stopped".into());
        }
        rx.await
            .unwrap_or_else(|_| Outcome::Retryable("writer thread has stopped".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test, removed when the test ends (pass or fail).
    struct Tmp(PathBuf);

    impl Tmp {
        fn new(name: &str) -> Tmp {
            let dir =
                std::env::temp_dir().join(format!("relay-sinks-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Tmp(dir)
        }

        fn file(&self) -> PathBuf {
            self.0.join("out.jsonl")
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn torn_last_line_is_removed_on_open() {
        let dir = Tmp::new("torn");
        let path = dir.file();
        std::fs::write(&path, b"{\"id\":1}\n{\"id\":2}\n{\"id\":").unwrap();
        let _ = Target::open_file(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"id\":1}\n{\"id\":2}\n");
    }

    #[test]
    fn file_without_newline_is_emptied() {
        let dir = Tmp::new("nonl");
        let path = dir.file();
        std::fs::write(&path, b"garbage").unwrap();
        let _ = Target::open_file(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn torn_line_longer_than_a_chunk() {
        let dir = Tmp::new("long");
        let path = dir.file();
        let mut content = b"{\"id\":1}\n".to_vec();
        content.extend(std::iter::repeat_n(b'x', 200_000));
        std::fs::write(&path, &content).unwrap();
        let _ = Target::open_file(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"id\":1}\n");
    }

    #[tokio::test]
    async fn lines_are_written_in_order_and_acked() {
        let dir = Tmp::new("order");
        let path = dir.file();
        let tx = spawn("t".into(), Target::open_file(&path).unwrap());
        let futs: Vec<_> = (0..1000)
            .map(|i| enqueue(&tx, Bytes::from(format!("{{\"n\":{i}}}"))))
            .collect();
        for f in futs {
            assert_eq!(f.await, Outcome::Acked);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let got: Vec<String> = text.lines().map(str::to_string).collect();
        let want: Vec<String> = (0..1000).map(|i| format!("{{\"n\":{i}}}")).collect();
        assert_eq!(got, want);
    }
}
