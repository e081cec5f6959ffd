//! A real SMTP server for tests: speaks ESMTP over TCP (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT,
//! DATA with dot-unstuffing, RSET, NOOP, QUIT) and keeps what it receives. Recipients can be
//! made to bounce (550) or to fail transiently (451) a number of times.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    pub auth: Option<(String, String)>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parseable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_string()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_string())
    }
}

#[derive(Debug, Default)]
struct Behaviour {
    bounce: Vec<String>,
    tempfail: Vec<(String, u32)>,
    require_auth: bool,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    connections: Arc<Mutex<u32>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp sink");
        let sink = SmtpSink {
            addr: listener.local_addr().expect("addr"),
            messages: Arc::default(),
            behaviour: Arc::default(),
            connections: Arc::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *s.connections.lock().unwrap() += 1;
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    pub fn connections(&self) -> u32 {
        *self.connections.lock().unwrap()
    }

    /// Recipients containing `pattern` get `550 no such user`.
    pub fn bounce(&self, pattern: &str) {
        self.behaviour.lock().unwrap().bounce.push(pattern.into());
    }

    /// Recipients containing `pattern` get `451` the next `times` times.
    pub fn tempfail(&self, pattern: &str, times: u32) {
        self.behaviour
            .lock()
            .unwrap()
            .tempfail
            .push((pattern.into(), times));
    }

    pub fn require_auth(&self) {
        self.behaviour.lock().unwrap().require_auth = true;
    }

    fn rcpt_reply(&self, rcpt: &str) -> &'static str {
        let mut b = self.behaviour.lock().unwrap();
        if b.bounce.iter().any(|p| rcpt.contains(p.as_str())) {
            return "550 5.1.1 no such user\r\n";
        }
        for (p, n) in b.tempfail.iter_mut() {
            if rcpt.contains(p.as_str()) && *n > 0 {
                *n -= 1;
                return "451 4.7.1 try again later\r\n";
            }
        }
        "250 2.1.5 ok\r\n"
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
        let mut from = String::new();
        let mut to = Vec::new();
        let mut auth: Option<(String, String)> = None;
        let b64 = base64::engine::general_purpose::STANDARD;
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                write
                    .write_all(b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 20000000\r\n")
                    .await?;
            } else if upper.starts_with("HELO") {
                write.write_all(b"250 sink.test\r\n").await?;
            } else if upper.starts_with("AUTH PLAIN") {
                let arg = cmd.split_whitespace().nth(2).map(str::to_string);
                let arg = match arg {
                    Some(a) => a,
                    None => {
                        write.write_all(b"334 \r\n").await?;
                        let mut l = String::new();
                        lines.read_line(&mut l).await?;
                        l.trim().to_string()
                    }
                };
                let decoded = b64.decode(arg).unwrap_or_default();
                let parts: Vec<String> = decoded
                    .split(|b| *b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                if parts.len() == 3 {
                    auth = Some((parts[1].clone(), parts[2].clone()));
                }
                write.write_all(b"235 2.7.0 authenticated\r\n").await?;
            } else if upper.starts_with("AUTH LOGIN") {
                write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                let mut u = String::new();
                lines.read_line(&mut u).await?;
                write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                let mut p = String::new();
                lines.read_line(&mut p).await?;
                let dec = |s: &str| {
                    String::from_utf8_lossy(&b64.decode(s.trim()).unwrap_or_default()).into_owned()
                };
                auth = Some((dec(&u), dec(&p)));
                write.write_all(b"235 2.7.0 authenticated\r\n").await?;
            } else if upper.starts_with("MAIL FROM:") {
                if self.behaviour.lock().unwrap().require_auth && auth.is_none() {
                    write
                        .write_all(b"530 5.7.0 authentication required\r\n")
                        .await?;
                    continue;
                }
                from = cmd[10..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches(['<', '>'])
                    .to_string();
                to.clear();
                write.write_all(b"250 2.1.0 ok\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                let rcpt = cmd[8..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches(['<', '>'])
                    .to_string();
                let reply = self.rcpt_reply(&rcpt);
                if reply.starts_with("250") {
                    to.push(rcpt);
                }
                write.write_all(reply.as_bytes()).await?;
            } else if upper == "DATA" {
                if to.is_empty() {
                    write
                        .write_all(b"554 5.5.1 no valid recipients\r\n")
                        .await?;
                    continue;
                }
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if lines.read_until(b'\n', &mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" || l == b".\n" {
                        break;
                    }
                    if l.starts_with(b"..") {
                        l.remove(0);
                    }
                    data.extend_from_slice(&l);
                }
                self.messages.lock().unwrap().push(Received {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                    auth: auth.clone(),
                });
                write.write_all(b"250 2.0.0 queued\r\n").await?;
            } else if upper == "RSET" {
                to.clear();
                write.write_all(b"250 2.0.0 ok\r\n").await?;
            } else if upper == "NOOP" {
                write.write_all(b"250 2.0.0 ok\r\n").await?;
            } else if upper == "QUIT" {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            } else {
                write
                    .write_all(b"502 5.5.2 command not recognised\r\n")
                    .await?;
            }
        }
    }
}
