//! A real SMTP listener on 127.0.0.1 for tests: speaks enough of RFC 5321 for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps every message it accepts.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The message with quoted-printable soft breaks and escapes undone.
    pub fn decoded(&self) -> String {
        let joined = self.data.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The first link in the message that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.decoded();
        let start = text.find(prefix)?;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .map(|e| start + e)
            .unwrap_or(text.len());
        Some(text[start..end].to_string())
    }

    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("")
            .to_string()
    }
}

#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    pub inbox: Arc<Mutex<Vec<Received>>>,
    /// How many messages the inbox holds, announced as each arrives, so waiting for mail
    /// is woken by the mail itself rather than by polling the inbox.
    arrived: Arc<tokio::sync::watch::Sender<usize>>,
}

/// A free port on 127.0.0.1 nobody listens on yet.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let inbox: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(tokio::sync::watch::Sender::new(0));
        let (sink, announce) = (inbox.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (sink, announce) = (sink.clone(), announce.clone());
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 test ESMTP\r\n").await;
                    let mut to = vec![];
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-test\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("HELO")
                            || upper.starts_with("MAIL")
                            || upper.starts_with("RSET")
                            || upper.starts_with("NOOP")
                        {
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = w.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                                data.push_str("\r\n");
                            }
                            if let Ok(mut inbox) = sink.lock() {
                                inbox.push(Received {
                                    to: std::mem::take(&mut to),
                                    data,
                                });
                                announce.send_replace(inbox.len());
                            }
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"502 not implemented\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self {
            port,
            inbox,
            arrived,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Waits (up to 20 s) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut arrived = self.arrived.subscribe();
        let waited = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            arrived.wait_for(|&count| count >= n),
        )
        .await;
        if !matches!(waited, Ok(Ok(_))) {
            panic!("expected {n} emails, got {}", self.messages().len());
        }
        self.messages()
    }
}
