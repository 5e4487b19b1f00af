//! The SQS emulator (ministack) per test on a free loopback port, a fault-injecting
//! HTTP proxy in front of it, and the boto3 reader.

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::http;

/// `$MINISTACK_BIN` (set by scripts/install-deps.sh --env).
pub fn ministack_bin() -> PathBuf {
    PathBuf::from(std::env::var_os("MINISTACK_BIN").expect(
        "MINISTACK_BIN is not set: run through scripts/test.sh (it installs ministack from PyPI)",
    ))
}

/// The environment the relay (and anything using the AWS chain) needs against the
/// emulator: static test credentials, a region, and never the EC2 metadata endpoint.
pub fn aws_env() -> Vec<(String, String)> {
    aws_env_with_key("test")
}

/// [`aws_env`] with another access key id (refused by a server started with auth).
pub fn aws_env_with_key(key: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A ministack server with only SQS, on 127.0.0.1; killed on drop.
pub struct Ministack {
    child: Option<Child>,
    pub port: u16,
}

impl Ministack {
    pub fn start() -> Ministack {
        Self::start_with(false)
    }

    /// With `AUTH=true`: unknown access keys get a real 403 `InvalidClientTokenId`
    /// (the key `test` is accepted with any secret; signatures are not checked).
    pub fn start_with_auth() -> Ministack {
        Self::start_with(true)
    }

    fn start_with(auth: bool) -> Ministack {
        let port = relay_tempdb::free_port().unwrap();
        let mut cmd = Command::new(ministack_bin());
        cmd.env("BIND_HOST", "127.0.0.1")
            .env("GATEWAY_PORT", port.to_string())
            .env("SERVICES", "sqs")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if auth {
            cmd.env("AUTH", "true");
        }
        let child = cmd.spawn().expect("start ministack");
        let server = Ministack {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = http::request(port, "GET", "/_ministack/health", &[], b"");
            if health.is_some_and(|r| r.json()["services"]["sqs"] == "available") {
                break;
            }
            assert!(Instant::now() < deadline, "ministack did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn queue_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/000000000000/{name}", self.port)
    }

    /// One SQS JSON-protocol call (unsigned; the access key `test` in the header is
    /// what a server with `AUTH=true` looks at).
    pub fn call(&self, action: &str, body: Value) -> http::Response {
        let target = format!("AmazonSQS.{action}");
        http::request(
            self.port,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &target),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            body.to_string().as_bytes(),
        )
        .unwrap_or_else(|| panic!("ministack did not answer {action}"))
    }

    /// Create a queue (FIFO when the name ends in `.fifo`) and return its URL.
    pub fn create_queue(&self, name: &str) -> String {
        let mut attributes = json!({});
        if name.ends_with(".fifo") {
            attributes = json!({"FifoQueue": "true"});
        }
        let r = self.call(
            "CreateQueue",
            json!({"QueueName": name, "Attributes": attributes}),
        );
        assert_eq!(r.status, 200, "CreateQueue {name}: {}", r.text());
        r.json()["QueueUrl"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| self.queue_url(name))
    }

    /// `ApproximateNumberOfMessages` + `…NotVisible` (everything stored).
    pub fn messages(&self, queue_url: &str) -> u64 {
        let r = self.call(
            "GetQueueAttributes",
            json!({"QueueUrl": queue_url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
        );
        let a = &r.json()["Attributes"];
        let n = |k: &str| {
            a[k].as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        n("ApproximateNumberOfMessages") + n("ApproximateNumberOfMessagesNotVisible")
    }
}

impl Drop for Ministack {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The venv with boto3, azure-storage-queue and the CloudEvents SDK
/// (tests/cloud/install.sh).
pub fn cloud_python() -> String {
    crate::venv_python(concat!(env!("CARGO_MANIFEST_DIR"), "/cloud/install.sh"))
}

/// Read the whole queue with boto3 (deleting what it read); the JSON of read_sqs.py.
pub fn read_queue(server: &Ministack, queue_url: &str, expect: usize) -> Value {
    let out = Command::new(cloud_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/cloud/read_sqs.py"))
        .args(["--endpoint", &server.endpoint(), "--queue-url", queue_url])
        .args(["--expect", &expect.to_string(), "--timeout", "120"])
        .output()
        .expect("run read_sqs.py");
    assert!(
        out.status.success(),
        "read_sqs.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("read_sqs.py prints JSON")
}

// ------------------------------------------------------------------ fault injection

#[derive(Default)]
struct Faults {
    /// Answer every request with 403 and this code.
    reject: Option<String>,
    /// Entries whose `ce-subject` is here fail with SenderFault=false while present.
    retryable: HashSet<String>,
    /// Entries whose `ce-subject` is here always fail with InvalidMessageContents.
    permanent: HashSet<String>,
    /// How often each subject's entry was failed.
    injected: HashMap<String, usize>,
}

/// An HTTP proxy in front of ministack that rewrites `SendMessageBatch`: chosen
/// entries are removed from the request (so they really are not stored) and listed
/// under `Failed` in the answer; or it refuses every request with a 403.
pub struct SqsProxy {
    pub port: u16,
    faults: Arc<Mutex<Faults>>,
}

impl SqsProxy {
    pub async fn start(upstream: u16) -> SqsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Mutex::new(Faults::default()));
        let shared = Arc::clone(&faults);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let faults = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(client, upstream, faults).await;
                });
            }
        });
        SqsProxy { port, faults }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Refuse every request: HTTP 403 with `code` (e.g. `InvalidClientTokenId`).
    pub fn reject_all(&self, code: &str) {
        self.faults.lock().unwrap().reject = Some(code.to_string());
    }

    pub fn accept_all(&self) {
        self.faults.lock().unwrap().reject = None;
    }

    pub fn fail_retryable(&self, subject: &str) {
        self.faults.lock().unwrap().retryable.insert(subject.into());
    }

    pub fn release(&self, subject: &str) {
        self.faults.lock().unwrap().retryable.remove(subject);
    }

    pub fn fail_permanent(&self, subject: &str) {
        self.faults.lock().unwrap().permanent.insert(subject.into());
    }

    /// How many times an entry of `subject` was failed.
    pub fn injected(&self, subject: &str) -> usize {
        self.faults
            .lock()
            .unwrap()
            .injected
            .get(subject)
            .copied()
            .unwrap_or(0)
    }
}

struct Message {
    head: String,
    body: Vec<u8>,
}

async fn read_message<R: tokio::io::AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0; n];
        r.read_exact(&mut body).await?;
    }
    Ok(Some(Message {
        head: head.trim_end().to_string(),
        body,
    }))
}

/// The message again, with `body` and a matching Content-Length.
fn encode(head: &str, body: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    for l in head.lines() {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("content-length:") || lower.starts_with("transfer-encoding:") {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut v = out.into_bytes();
    v.extend_from_slice(body);
    v
}

fn subject_of(entry: &Value) -> String {
    entry["MessageAttributes"]["ce-subject"]["StringValue"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Take the entries to fail out of a SendMessageBatch body: (new body, Failed items).
fn strip(body: &[u8], faults: &Mutex<Faults>) -> (Vec<u8>, Vec<Value>, usize) {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return (body.to_vec(), Vec::new(), 0);
    };
    let mut failed = Vec::new();
    let mut f = faults.lock().unwrap();
    if let Some(entries) = v["Entries"].as_array_mut() {
        entries.retain(|e| {
            let subject = subject_of(e);
            let (sender_fault, code) = if f.permanent.contains(&subject) {
                (true, "InvalidMessageContents")
            } else if f.retryable.contains(&subject) {
                (false, "InternalError")
            } else {
                return true;
            };
            *f.injected.entry(subject).or_default() += 1;
            failed.push(
                json!({"Id": e["Id"], "SenderFault": sender_fault, "Code": code,
                               "Message": "injected by the test proxy"}),
            );
            false
        });
    }
    let left = v["Entries"].as_array().map_or(0, Vec::len);
    (serde_json::to_vec(&v).unwrap(), failed, left)
}

async fn serve(
    client: TcpStream,
    upstream: u16,
    faults: Arc<Mutex<Faults>>,
) -> std::io::Result<()> {
    let (cr, mut cw) = client.into_split();
    let mut cr = BufReader::new(cr);
    let mut up: Option<(
        BufReader<tokio::net::tcp::OwnedReadHalf>,
        tokio::net::tcp::OwnedWriteHalf,
    )> = None;
    while let Some(req) = read_message(&mut cr).await? {
        let reject = faults.lock().unwrap().reject.clone();
        if let Some(code) = reject {
            let body = json!({"__type": format!("com.amazon.coral.service#{code}"),
                              "message": "The security token included in the request is invalid."});
            let head = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: 00000000-0000-4000-8000-000000000403\r\nx-amzn-query-error: {code};Sender"
            );
            cw.write_all(&encode(&head, body.to_string().as_bytes()))
                .await?;
            continue;
        }
        let batch = req
            .head
            .to_ascii_lowercase()
            .contains("x-amz-target: amazonsqs.sendmessagebatch");
        let (body, failed, left) = if batch {
            strip(&req.body, &faults)
        } else {
            (req.body.clone(), Vec::new(), 1)
        };
        let response = if left == 0 {
            // Nothing left to forward: answer for the upstream.
            let body = json!({"Successful": [], "Failed": failed});
            encode(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0",
                body.to_string().as_bytes(),
            )
        } else {
            if up.is_none() {
                let s = TcpStream::connect(("127.0.0.1", upstream)).await?;
                let (r, w) = s.into_split();
                up = Some((BufReader::new(r), w));
            }
            let (ur, uw) = up.as_mut().unwrap();
            uw.write_all(&encode(&req.head, &body)).await?;
            let Some(resp) = read_message(ur).await? else {
                return Ok(());
            };
            let mut rbody = resp.body;
            if !failed.is_empty() {
                let mut v: Value = serde_json::from_slice(&rbody).unwrap_or(json!({}));
                if !v["Failed"].is_array() {
                    v["Failed"] = json!([]);
                }
                v["Failed"].as_array_mut().unwrap().extend(failed);
                rbody = serde_json::to_vec(&v).unwrap();
            }
            encode(&resp.head, &rbody)
        };
        cw.write_all(&response).await?;
    }
    Ok(())
}
