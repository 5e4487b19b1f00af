//! A fault-injecting TCP proxy on a free loopback port, put between the relay and
//! PostgreSQL or nats-server. It can
//! - **stall** every byte in both directions until resumed (requests time out, nothing
//!   is lost);
//! - **cut** every open connection at once with a reset, as a broken network path does
//!   (bytes in flight through the proxy are lost);
//! - speaking the NATS client protocol ([`FaultProxy::start_nats`]), **drop** single
//!   messages: a publish on its way to the server (the stream never stores it) or a
//!   JetStream publish ack on its way back (the stream stored it, the publisher never
//!   hears so). Every other frame (CONNECT, PING, JetStream API requests and replies)
//!   passes untouched, so the connection itself stays healthy.
//!
//! Only loopback, only the ports it was given.

use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    target_port: u16,
    nats: bool,
    stalled: AtomicBool,
    /// Probability (in millionths) that a droppable NATS message is dropped.
    drop_ppm: AtomicU32,
    rng: Mutex<rand::rngs::StdRng>,
    /// Bumped by [`FaultProxy::cut`]; every connection task watches it.
    cut: watch::Sender<u64>,
    live: AtomicUsize,
    accepted: AtomicU64,
    dropped_publishes: AtomicU64,
    dropped_acks: AtomicU64,
    connections_cut: AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

impl FaultProxy {
    /// A byte-level proxy (stall and cut), e.g. in front of PostgreSQL.
    pub async fn start(target_port: u16) -> FaultProxy {
        Self::start_inner(target_port, false, 0).await
    }

    /// A proxy in front of nats-server that can also drop publishes and acks; `seed`
    /// drives which ones.
    pub async fn start_nats(target_port: u16, seed: u64) -> FaultProxy {
        Self::start_inner(target_port, true, seed).await
    }

    async fn start_inner(target_port: u16, nats: bool, seed: u64) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            target_port,
            nats,
            stalled: AtomicBool::new(false),
            drop_ppm: AtomicU32::new(0),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
            cut: watch::channel(0).0,
            live: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            dropped_publishes: AtomicU64::new(0),
            dropped_acks: AtomicU64::new(0),
            connections_cut: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        FaultProxy {
            port,
            shared,
            accept,
        }
    }

    /// Hold every byte (both directions) until [`FaultProxy::resume`].
    pub fn stall(&self) {
        self.shared.stalled.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.shared.stalled.store(false, Ordering::SeqCst);
    }

    /// Reset every open connection; returns how many there were. New connections are
    /// accepted as before.
    pub fn cut(&self) -> usize {
        let live = self.shared.live.load(Ordering::SeqCst);
        self.shared.cut.send_modify(|g| *g += 1);
        live
    }

    /// From now on drop each NATS publish (to the server) and each JetStream publish ack
    /// (to the client) with probability `p`; 0 turns dropping off. Only for
    /// [`FaultProxy::start_nats`].
    pub fn drop_messages(&self, p: f64) {
        assert!(
            self.shared.nats,
            "dropping messages needs a NATS-aware proxy"
        );
        let ppm = (p.clamp(0.0, 1.0) * 1e6) as u32;
        self.shared.drop_ppm.store(ppm, Ordering::SeqCst);
    }

    /// Connections open right now.
    pub fn live_connections(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Connections accepted since start.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub fn dropped_publishes(&self) -> u64 {
        self.shared.dropped_publishes.load(Ordering::SeqCst)
    }

    pub fn dropped_acks(&self) -> u64 {
        self.shared.dropped_acks.load(Ordering::SeqCst)
    }

    /// Connections reset by [`FaultProxy::cut`] so far.
    pub fn connections_cut(&self) -> u64 {
        self.shared.connections_cut.load(Ordering::SeqCst)
    }

    /// `nats://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.cut.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    while let Ok((inbound, _)) = listener.accept().await {
        let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", shared.target_port)).await
        else {
            // Target down (a restart in progress): the client sees its connection close.
            let _ = inbound.set_zero_linger();
            continue;
        };
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        shared.live.fetch_add(1, Ordering::SeqCst);
        let (ri, wi) = inbound.into_split();
        let (ro, wo) = outbound.into_split();
        let up = tokio::spawn(pump(
            ri,
            wo,
            Direction::ToServer,
            Arc::clone(&shared),
            shared.cut.subscribe(),
        ));
        let down = tokio::spawn(pump(
            ro,
            wi,
            Direction::ToClient,
            Arc::clone(&shared),
            shared.cut.subscribe(),
        ));
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let (a, b) = tokio::join!(up, down);
            if a.unwrap_or(false) || b.unwrap_or(false) {
                shared.connections_cut.fetch_add(1, Ordering::SeqCst);
            }
            shared.live.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Copy `from` → `to` until EOF, an error or a cut; `true` if it ended by a cut.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    shared: Arc<Shared>,
    mut cut: watch::Receiver<u64>,
) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let reset = |from: &OwnedReadHalf, to: &OwnedWriteHalf| {
        // A reset, not a FIN: the peer sees the connection break, as on a network fault.
        let _ = AsRef::<tokio::net::TcpStream>::as_ref(from).set_zero_linger();
        let _ = AsRef::<tokio::net::TcpStream>::as_ref(to).set_zero_linger();
        true
    };
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = cut.changed() => return reset(&from, &to),
        };
        while shared.stalled.load(Ordering::SeqCst) {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = cut.changed() => return reset(&from, &to),
            }
        }
        let out: Vec<u8> = if shared.nats {
            pending.extend_from_slice(&buf[..n]);
            nats_frames(&mut pending, direction, &shared)
        } else {
            buf[..n].to_vec()
        };
        tokio::select! {
            r = to.write_all(&out) => if r.is_err() { break },
            _ = cut.changed() => return reset(&from, &to),
        }
    }
    let _ = to.shutdown().await;
    false
}

/// Take the complete NATS protocol frames off the front of `pending` and return the
/// bytes to forward, minus the dropped messages.
fn nats_frames(pending: &mut Vec<u8>, direction: Direction, shared: &Shared) -> Vec<u8> {
    let mut out = Vec::with_capacity(pending.len());
    let mut at = 0;
    while let Some(eol) = find_crlf(&pending[at..]) {
        let line = &pending[at..at + eol];
        let mut words = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|w| !w.is_empty());
        let op = words
            .next()
            .map(|w| w.to_ascii_uppercase())
            .unwrap_or_default();
        let subject = words.next().unwrap_or_default().to_vec();
        let with_payload = matches!(op.as_slice(), b"PUB" | b"HPUB" | b"MSG" | b"HMSG");
        let len = if with_payload {
            let size: usize = std::str::from_utf8(line.rsplit(|b| *b == b' ').next().unwrap())
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .expect("a NATS message line ends with its size");
            eol + 2 + size + 2
        } else {
            eol + 2
        };
        if pending.len() - at < len {
            break;
        }
        let frame = &pending[at..at + len];
        let droppable = match direction {
            // A publish of an event (not a JetStream API request).
            Direction::ToServer => {
                matches!(op.as_slice(), b"PUB" | b"HPUB") && !subject.starts_with(b"$JS.")
            }
            // A JetStream publish ack: `{"stream":…,"seq":…}` (API replies look different).
            Direction::ToClient => {
                matches!(op.as_slice(), b"MSG" | b"HMSG")
                    && find(&frame[eol + 2..], b"{\"stream\":").is_some()
            }
        };
        let drop = droppable && {
            let ppm = shared.drop_ppm.load(Ordering::SeqCst);
            ppm > 0 && shared.rng.lock().unwrap().gen_range(0..1_000_000) < ppm
        };
        if drop {
            match direction {
                Direction::ToServer => &shared.dropped_publishes,
                Direction::ToClient => &shared.dropped_acks,
            }
            .fetch_add(1, Ordering::SeqCst);
        } else {
            out.extend_from_slice(frame);
        }
        at += len;
    }
    pending.drain(..at);
    out
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    find(bytes, b"\r\n")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(drop_all: bool) -> Shared {
        Shared {
            target_port: 0,
            nats: true,
            stalled: AtomicBool::new(false),
            drop_ppm: AtomicU32::new(if drop_all { 1_000_000 } else { 0 }),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(1)),
            cut: watch::channel(0).0,
            live: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            dropped_publishes: AtomicU64::new(0),
            dropped_acks: AtomicU64::new(0),
            connections_cut: AtomicU64::new(0),
        }
    }

    #[test]
    fn frames_split_across_reads_are_reassembled_and_event_publishes_dropped() {
        let s = shared(true);
        let stream = b"CONNECT {}\r\nHPUB portal.events.x _INBOX.a.1 12 17\r\nNATS/1.0\r\n\r\nhello\r\nPUB $JS.API.INFO _INBOX.a.2 0\r\n\r\nPING\r\n";
        let mut pending = Vec::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(7) {
            pending.extend_from_slice(chunk);
            out.extend(nats_frames(&mut pending, Direction::ToServer, &s));
        }
        assert!(pending.is_empty());
        assert_eq!(
            out,
            b"CONNECT {}\r\nPUB $JS.API.INFO _INBOX.a.2 0\r\n\r\nPING\r\n".to_vec()
        );
        assert_eq!(s.dropped_publishes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_publish_acks_are_dropped_on_the_way_back() {
        let s = shared(true);
        let ack = b"{\"stream\":\"S\",\"seq\":1}";
        let api = b"{\"type\":\"io.nats.jetstream.api.v1.stream_info_response\"}";
        let mut pending = format!("MSG _INBOX.a.1 1 {}\r\n", ack.len()).into_bytes();
        pending.extend_from_slice(ack);
        pending.extend_from_slice(format!("\r\nMSG _INBOX.a.2 1 {}\r\n", api.len()).as_bytes());
        pending.extend_from_slice(api);
        pending.extend_from_slice(b"\r\nPONG\r\n");
        let out = nats_frames(&mut pending, Direction::ToClient, &s);
        let mut expect = format!("MSG _INBOX.a.2 1 {}\r\n", api.len()).into_bytes();
        expect.extend_from_slice(api);
        expect.extend_from_slice(b"\r\nPONG\r\n");
        assert_eq!(out, expect);
        assert_eq!(s.dropped_acks.load(Ordering::SeqCst), 1);
    }
}
