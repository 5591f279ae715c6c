//! Plain HTTP/1.1 to pod IPs, which are on loopback (or, inside scripts/netns-run,
//! in the private namespace's local range). Any other address is a test bug.
#![allow(dead_code)]
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Panics unless `ip` is one the network rule allows: 127.0.0.0/8, or the range that
/// scripts/netns-run made local to this process's private network namespace.
pub fn assert_allowed(ip: &str) {
    let a: Ipv4Addr = ip.parse().unwrap_or_else(|e| panic!("pod IP {ip:?}: {e}"));
    if a.is_loopback() {
        return;
    }
    let netns = std::env::var("TRACTOR_NETNS").unwrap_or_default();
    let inside = netns.split_once('/').is_some_and(|(net, bits)| {
        let (Ok(net), Ok(bits)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
            return false;
        };
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        u32::from(a) & mask == u32::from(net) & mask
    });
    assert!(
        inside,
        "{ip} is neither loopback nor in the private namespace's range {netns:?}"
    );
}

/// GET, retried until a 200 or `timeout`.
pub async fn eventually_get(ip: &str, port: u16, path: &str, timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(body) = get(ip, port, path).await {
            return body;
        }
        assert!(
            start.elapsed() < timeout,
            "no answer from {ip}:{port}{path}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET that fails unless the answer is a 200.
pub async fn get(ip: &str, port: u16, path: &str) -> std::io::Result<String> {
    let out = request(ip, port, "GET", path, None).await?;
    if !out.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(out));
    }
    Ok(out)
}

pub async fn post(ip: &str, port: u16, path: &str, json: &str) -> std::io::Result<String> {
    request(ip, port, "POST", path, Some(json)).await
}

/// How long one request may take, connect to last byte: a server that accepted the
/// connection and never answers (one draining, or stopped) is a failed request, not a
/// test that hangs.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One request on its own connection; the whole answer, head included; an error after
/// [`REQUEST_TIMEOUT`].
pub async fn request(
    ip: &str,
    port: u16,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> std::io::Result<String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange(ip, port, method, path, json)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{method} {ip}:{port}{path}: no answer within {REQUEST_TIMEOUT:?}"),
        )),
    }
}

async fn exchange(
    ip: &str,
    port: u16,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    assert_allowed(ip);
    let mut s = tokio::net::TcpStream::connect((ip, port)).await?;
    let body = json.unwrap_or("");
    let head = match json {
        Some(b) => format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            b.len()
        ),
        None => String::new(),
    };
    let req =
        format!("{method} {path} HTTP/1.1\r\nhost: {ip}\r\n{head}connection: close\r\n\r\n{body}");
    s.write_all(req.as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}
