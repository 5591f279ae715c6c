//! When an answer reached this machine, not when the generator got round to reading it: the
//! kernel stamps each received packet (`SO_TIMESTAMPNS`) and hands the stamp of the last
//! one read back with the bytes (`recvmsg`). On 2 cores shared with the server, a lane
//! thread that is off the CPU when its answer lands reads it a scheduler slice later; timed
//! at the read, that slice would be counted as the server's latency. The difference (how
//! long answers waited in the socket) is the generator's own delay, reported apart.
//! Where the stamp is missing (not Linux, refused, or the first packets after the first
//! socket asked: the kernel turns stamping on for the machine in deferred work) the read's
//! own time stands, as before.
use std::time::{Duration, Instant, SystemTime};

/// Turns a receive stamp on the wall clock into the monotonic clock the latencies use: the
/// stamp is `now_wall - rx` before `now`. A stamp in the future (the wall clock stepped
/// back) is taken as now; one older than `now` can express is unknown.
pub fn to_instant(rx: SystemTime, now_wall: SystemTime, now: Instant) -> Option<Instant> {
    let waited = now_wall.duration_since(rx).unwrap_or(Duration::ZERO);
    now.checked_sub(waited)
}

#[cfg(target_os = "linux")]
pub use linux::{enable, recv};

#[cfg(not(target_os = "linux"))]
pub fn enable(_tcp: &tokio::net::TcpStream) -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
pub fn recv(
    tcp: &tokio::net::TcpStream,
    buf: &mut bytes::BytesMut,
) -> std::io::Result<(usize, Option<Instant>)> {
    Ok((tcp.try_read_buf(buf)?, None))
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant, SystemTime};

    use bytes::BytesMut;

    /// Asks the kernel to stamp what this socket receives; false if it refused.
    pub fn enable(tcp: &tokio::net::TcpStream) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: a valid descriptor (the stream owns it), an int option of the right size.
        let r = unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        r == 0
    }

    /// Room for one `SCM_TIMESTAMPNS` message and then some, aligned as `cmsghdr` wants.
    #[repr(C, align(8))]
    struct Control([u8; 64]);

    /// One non-blocking read into `buf`'s spare room: the bytes read (0 at the connection's
    /// end) and when the last of them reached this machine, if the kernel said. Meant for
    /// `TcpStream::async_io`: `WouldBlock` when there is nothing to read.
    pub fn recv(
        tcp: &tokio::net::TcpStream,
        buf: &mut BytesMut,
    ) -> std::io::Result<(usize, Option<Instant>)> {
        let spare = buf.spare_capacity_mut();
        // no room would read 0 bytes, which says the connection ended
        debug_assert!(!spare.is_empty());
        let mut iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len(),
        };
        let mut control = Control([0; 64]);
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len() as _;
        // SAFETY: the iovec points into `buf`'s spare capacity, writable for its length;
        // the control buffer lives until the call returns.
        let n = unsafe { libc::recvmsg(tcp.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: the kernel initialised the first `n` bytes of the spare room.
        unsafe { buf.set_len(buf.len() + n) };
        let (now_wall, now) = (SystemTime::now(), Instant::now());
        Ok((
            n,
            stamp(&msg).and_then(|rx| super::to_instant(rx, now_wall, now)),
        ))
    }

    /// The `SCM_TIMESTAMPNS` stamp among the control messages `recvmsg` filled in.
    fn stamp(msg: &libc::msghdr) -> Option<SystemTime> {
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return None;
        }
        // SAFETY: the CMSG_* walk stays inside `msg_control`/`msg_controllen`, which the
        // kernel set; the data of a timestamp message is one timespec, read unaligned.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    let (s, ns) = (u64::try_from(ts.tv_sec).ok()?, ts.tv_nsec as u32);
                    return SystemTime::UNIX_EPOCH
                        .checked_add(Duration::new(s, ns.min(999_999_999)));
                }
                c = libc::CMSG_NXTHDR(msg, c);
            }
        }
        None
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    #[test]
    fn a_stamp_becomes_the_instant_as_long_before_now() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let rx = wall - Duration::from_micros(2_500);
        assert_eq!(
            to_instant(rx, wall, now),
            Some(now - Duration::from_micros(2_500))
        );
        // a wall clock stepped back since the stamp: taken as now, never after it
        assert_eq!(
            to_instant(wall + Duration::from_secs(5), wall, now),
            Some(now)
        );
    }

    /// The kernel turns stamping on for the machine when a first socket asks, in deferred
    /// work: packets in the first moments go unstamped. This waits (2 s at most) until a
    /// loopback pair sees stamps, and returns the pair: holding it keeps stamping on.
    #[cfg(target_os = "linux")]
    pub async fn stamping_on() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert!(enable(&client));
        let (mut server, _) = listener.accept().await.unwrap();
        let mut buf = bytes::BytesMut::with_capacity(64);
        for _ in 0..200 {
            buf.clear();
            server.write_all(b".").await.unwrap();
            let (_, at) = client
                .async_io(tokio::io::Interest::READABLE, || recv(&client, &mut buf))
                .await
                .unwrap();
            if at.is_some() {
                return (client, server);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no receive stamp on loopback within 2 s of asking for them");
    }

    /// The real kernel stamps a real answer: one that waited 30 ms in the socket before
    /// it was read is dated when it came, not when it was read.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_answer_read_late_is_dated_when_it_came() {
        use tokio::io::AsyncWriteExt;
        let _on = stamping_on().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(enable(&client));
        let (mut server, _) = listener.accept().await.unwrap();
        server.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        let written = Instant::now();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let mut buf = bytes::BytesMut::with_capacity(1024);
        let (n, at) = client
            .async_io(tokio::io::Interest::READABLE, || recv(&client, &mut buf))
            .await
            .unwrap();
        let read = Instant::now();
        assert_eq!((n, &buf[..]), (17, &b"HTTP/1.1 200 OK\r\n"[..]));
        let at = at.expect("the kernel stamps what a socket with SO_TIMESTAMPNS receives");
        assert!(
            read - at >= Duration::from_millis(25),
            "stamped {:?} before the read",
            read - at
        );
        assert!(
            at.saturating_duration_since(written) < Duration::from_millis(5),
            "stamped {:?} after the write",
            at.saturating_duration_since(written)
        );
        // the connection's end: 0 bytes
        drop(server);
        let (n, _) = client
            .async_io(tokio::io::Interest::READABLE, || recv(&client, &mut buf))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
