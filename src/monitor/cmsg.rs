//! The control data of a `sendmsg` the supervisor performs for a process,
//! parsed from the bytes it read once: every length is checked, only
//! descriptors passed with `SCM_RIGHTS` are understood, and anything else
//! fails closed (the supervisor sends what it understood or nothing).

/// Size of `struct cmsghdr` (x86_64 and aarch64: a `size_t` length, two ints).
const CMSGHDR: usize = 16;

/// The most descriptors one message passes (the kernel's `SCM_MAX_FD`).
const MAX_FDS: usize = 253;

/// The most control data the supervisor reads: far above a message of
/// `MAX_FDS` descriptors, below the kernel's `optmem_max`.
pub const MAX_CONTROL: usize = 64 * 1024;

/// Why control data is not sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A length that does not fit what was read, or a descriptor list that
    /// is not whole ints (the kernel would answer EINVAL too).
    Malformed(String),
    /// More descriptors than the kernel passes in one message.
    TooMany(usize),
    /// A control message other than `SCM_RIGHTS` (`SCM_CREDENTIALS`, any
    /// other level or type): the supervisor would send its own credentials
    /// or an option it does not judge.
    Unsupported { level: i32, kind: i32 },
}

impl Refused {
    /// The errno the process gets.
    pub fn errno(&self) -> i32 {
        match self {
            Refused::Malformed(_) | Refused::TooMany(_) => libc::EINVAL,
            Refused::Unsupported { .. } => libc::EPERM,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Malformed(why) => write!(f, "malformed control data ({why})"),
            Refused::TooMany(n) => write!(f, "{n} descriptors in one message"),
            Refused::Unsupported { level, kind } => {
                write!(f, "control message level {level} type {kind} not passed")
            }
        }
    }
}

/// A control message's length rounded up as `CMSG_ALIGN` does.
fn align(len: usize) -> usize {
    (len + 7) & !7
}

/// The descriptor numbers that control data `raw` passes, in order, walked
/// as the kernel walks it (`for_each_cmsghdr`): a header per message, the
/// next one at the aligned end of the last, a tail shorter than a header
/// ignored.
pub fn rights(raw: &[u8]) -> Result<Vec<i32>, Refused> {
    let int = |at: usize| i32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let mut fds = Vec::new();
    let mut off = 0usize;
    while raw.len() - off >= CMSGHDR {
        let mut word = [0u8; 8];
        word.copy_from_slice(&raw[off..off + 8]);
        let len = u64::from_ne_bytes(word);
        let left = raw.len() - off;
        let len = match usize::try_from(len) {
            Ok(l) if (CMSGHDR..=left).contains(&l) => l,
            _ => return Err(Refused::Malformed(format!("length {len} of {left}"))),
        };
        let (level, kind) = (int(off + 8), int(off + 12));
        if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
            return Err(Refused::Unsupported { level, kind });
        }
        let body = len - CMSGHDR;
        if !body.is_multiple_of(4) {
            return Err(Refused::Malformed(format!("{body} bytes of descriptors")));
        }
        fds.extend((0..body / 4).map(|i| int(off + CMSGHDR + 4 * i)));
        if fds.len() > MAX_FDS {
            return Err(Refused::TooMany(fds.len()));
        }
        // `align(len)` may pass the end: the loop's test stops there.
        off = (off + align(len)).min(raw.len());
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One control message as a process lays it out.
    fn cmsg(level: i32, kind: i32, body: &[u8], len: Option<u64>) -> Vec<u8> {
        let len = len.unwrap_or((CMSGHDR + body.len()) as u64);
        let mut out = len.to_ne_bytes().to_vec();
        out.extend(level.to_ne_bytes());
        out.extend(kind.to_ne_bytes());
        out.extend(body);
        out.resize(align(out.len()), 0);
        out
    }

    fn fds(list: &[i32]) -> Vec<u8> {
        list.iter().flat_map(|f| f.to_ne_bytes()).collect()
    }

    const SOL: i32 = libc::SOL_SOCKET;
    const RIGHTS: i32 = libc::SCM_RIGHTS;

    #[test]
    fn descriptors_of_every_rights_message_are_read_in_order() {
        assert_eq!(rights(&[]), Ok(vec![]));
        let one = cmsg(SOL, RIGHTS, &fds(&[5]), None);
        assert_eq!(rights(&one), Ok(vec![5]));
        // An odd count is padded to the next header.
        let mut two = cmsg(SOL, RIGHTS, &fds(&[3, 4, 7]), None);
        two.extend(cmsg(SOL, RIGHTS, &fds(&[9]), None));
        assert_eq!(rights(&two), Ok(vec![3, 4, 7, 9]));
        // A tail shorter than a header is ignored, as the kernel does.
        let mut tail = one.clone();
        tail.extend([0xff; CMSGHDR - 1]);
        assert_eq!(rights(&tail), Ok(vec![5]));
        // An empty descriptor list passes nothing.
        assert_eq!(rights(&cmsg(SOL, RIGHTS, &[], None)), Ok(vec![]));
    }

    #[test]
    fn every_wrong_length_fails_closed() {
        let good = cmsg(SOL, RIGHTS, &fds(&[3, 4]), None);
        // Every length but the true one: too short for a header, past the
        // end, or not whole descriptors.
        for len in (0..64u64).chain([u64::MAX, 1 << 32, (1 << 32) + 24]) {
            let mut raw = good.clone();
            raw[..8].copy_from_slice(&len.to_ne_bytes());
            let got = rights(&raw);
            // 16: an empty list, the next header past the end (the kernel's walk).
            if len == 16 || len == 20 || len == 24 {
                assert!(got.is_ok(), "{len}: {got:?}");
            } else {
                assert!(matches!(got, Err(Refused::Malformed(_))), "{len}: {got:?}");
            }
        }
        // The data cut anywhere inside a message.
        for cut in CMSGHDR..good.len() - 4 {
            let got = rights(&good[..cut]);
            assert!(matches!(got, Err(Refused::Malformed(_))), "{cut}: {got:?}");
        }
        // A second message whose length runs past the end.
        let mut two = good.clone();
        two.extend(cmsg(SOL, RIGHTS, &fds(&[5]), Some(40)));
        assert!(matches!(rights(&two), Err(Refused::Malformed(_))));
    }

    #[test]
    fn anything_but_rights_fails_closed() {
        let creds = cmsg(SOL, libc::SCM_CREDENTIALS, &[0; 12], None);
        for (level, kind) in [
            (SOL, libc::SCM_CREDENTIALS),
            (SOL, 0x4f),
            (SOL, -1),
            (libc::IPPROTO_IP, libc::IP_TOS),
            (libc::IPPROTO_TCP, RIGHTS),
            (0, RIGHTS),
        ] {
            let raw = cmsg(level, kind, &fds(&[3]), None);
            assert_eq!(rights(&raw), Err(Refused::Unsupported { level, kind }));
            assert_eq!(rights(&raw).unwrap_err().errno(), libc::EPERM);
            // After a good one too.
            let mut after = cmsg(SOL, RIGHTS, &fds(&[3]), None);
            after.extend(&raw);
            assert_eq!(rights(&after), Err(Refused::Unsupported { level, kind }));
        }
        assert!(rights(&creds).is_err());
    }

    #[test]
    fn more_descriptors_than_the_kernel_passes_are_refused() {
        let many: Vec<i32> = (0..=MAX_FDS as i32).collect();
        assert_eq!(
            rights(&cmsg(SOL, RIGHTS, &fds(&many), None)),
            Err(Refused::TooMany(MAX_FDS + 1))
        );
        let mut split = cmsg(SOL, RIGHTS, &fds(&many[..200]), None);
        split.extend(cmsg(SOL, RIGHTS, &fds(&many[200..]), None));
        assert_eq!(rights(&split), Err(Refused::TooMany(MAX_FDS + 1)));
        assert_eq!(
            rights(&cmsg(SOL, RIGHTS, &fds(&many[..MAX_FDS]), None)).map(|v| v.len()),
            Ok(MAX_FDS)
        );
        assert_eq!(Refused::TooMany(254).errno(), libc::EINVAL);
    }
}
