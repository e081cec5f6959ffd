//! Send benchmark: reminders per second through the e-mail channel (one reused SMTP
//! connection) to a local SMTP sink, beside Python's smtplib sending the same messages to the
//! same sink in the same run; per-message latency shows whether Nagle's 40 ms stall is there.
//!
//! `cargo bench --bench send` (messages: `BENCH_SEND_COUNT=2000`).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use relance::channels::email::{EmailChannel, EmailSettings, SmtpTarget, Tls};
use relance::channels::{Channel, OutgoingMessage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A minimal SMTP server that counts accepted messages.
async fn sink() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    } else if cmd == "DATA" {
                        let _ = w.write_all(b"354 go ahead\r\n").await;
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                        }
                        c.fetch_add(1, Ordering::Relaxed);
                        b"250 queued\r\n"
                    } else if cmd == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, count)
}

fn message(i: usize, text: &str, html: &str) -> OutgoingMessage {
    OutgoingMessage {
        to: vec![format!("client{i}@example.com")],
        to_name: Some(format!("Client {i}")),
        subject: format!("Facture F-{i:06} en attente de règlement"),
        text: text.to_string(),
        html: Some(html.to_string()),
        message_id: format!("<relance.bench{i:08}@atelier-dupont.fr>"),
        reference: format!("invoice:{i}:friendly"),
        attachments: Vec::new(),
        sent_at: chrono::DateTime::parse_from_rfc3339("2027-01-22T09:00:00Z")
            .unwrap()
            .to_utc(),
    }
}

const PYTHON: &str = r#"
import smtplib, sys, time, glob
port, folder = int(sys.argv[1]), sys.argv[2]
files = sorted(glob.glob(folder + "/*.eml"))
messages = [open(f, "rb").read() for f in files]
s = smtplib.SMTP("127.0.0.1", port)
s.ehlo("atelier-dupont.fr")
start = time.perf_counter()
for i, m in enumerate(messages):
    s.sendmail("compta@atelier-dupont.fr", ["client%d@example.com" % i], m)
elapsed = time.perf_counter() - start
s.quit()
print(len(messages), elapsed)
"#;

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_SEND_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let templates = relance::templates::Templates::new(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates"),
    );
    let today: chrono::NaiveDate = "2027-01-22".parse().unwrap();
    let amount = relance_core::Money::from_minor(124800, relance_core::Currency::EUR);
    let view = relance::templates::InvoiceView::new(
        "F-000001",
        &amount,
        &amount,
        Some("2026-12-15".parse().unwrap()),
        Some("2027-01-15".parse().unwrap()),
        Some("https://invoice.stripe.com/i/acct_x/test_y"),
        "fr",
        today,
    );
    let context = relance::templates::MessageContext {
        company: relance::templates::Party {
            name: "Atelier Dupont SARL".into(),
            email: "compta@atelier-dupont.fr".into(),
        },
        customer: relance::templates::Party {
            name: "Client".into(),
            email: "client@example.com".into(),
        },
        invoices: vec![view.clone()],
        invoice: view,
        step: "friendly".into(),
        today: "22 janvier 2027".into(),
        locale: "fr".into(),
        late_fees: None,
        instalment: None,
        b2c: false,
    };
    let rendered = templates.render("friendly", "fr", &context).unwrap();
    let html = rendered.html.clone().unwrap();
    let messages: Vec<OutgoingMessage> =
        (0..n).map(|i| message(i, &rendered.text, &html)).collect();

    let (addr, count) = sink().await;
    let settings = EmailSettings {
        from: "Atelier Dupont <compta@atelier-dupont.fr>".parse().unwrap(),
        reply_to: None,
        test_recipient: None,
        timeout: Duration::from_secs(30),
    };
    let channel = EmailChannel::new(
        SmtpTarget::Smtp {
            host: "127.0.0.1".into(),
            port: addr.port(),
            tls: Tls::Opportunistic,
            credentials: None,
        },
        settings,
    );
    // Warm-up: the connection and the first message.
    channel.send(&messages[0]).await.unwrap();
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for m in &messages[1..] {
        let t = Instant::now();
        channel.send(m).await.unwrap();
        latencies.push(t.elapsed());
    }
    let ours = started.elapsed();
    latencies.sort();
    assert_eq!(count.load(Ordering::Relaxed), n as u64);

    // The same messages, byte for byte, through Python's smtplib on one connection.
    let dir = tempfile::tempdir().unwrap();
    for (i, m) in messages.iter().enumerate().skip(1) {
        let (mime, _) = channel.build(m).unwrap();
        std::fs::write(dir.path().join(format!("{i:08}.eml")), mime.formatted()).unwrap();
    }
    let script = dir.path().join("send.py");
    std::fs::write(&script, PYTHON).unwrap();
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(addr.port().to_string())
        .arg(dir.path())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let py_n: f64 = parts.next().unwrap().parse().unwrap();
    let py_secs: f64 = parts.next().unwrap().parse().unwrap();

    let size = channel.build(&messages[1]).unwrap().0.formatted().len();
    println!(
        "send: {} messages of {size} bytes (text + HTML) to a local SMTP sink, one connection",
        n - 1
    );
    println!(
        "  relance e-mail channel: {:>8.0} messages/s   latency p50 {:?}  p99 {:?}  max {:?}",
        (n - 1) as f64 / ours.as_secs_f64(),
        support::percentile(&latencies, 0.5),
        support::percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    println!(
        "  Python smtplib:         {:>8.0} messages/s",
        py_n / py_secs
    );
}
