//! `drop.binary`: a native executable (ELF, Mach-O, PE) written outside the
//! package payload, or inside it under a misleading extension. High when
//! packed (UPX) or above the entropy threshold.

use super::{Evidence, Finding, Input, Procs, Severity, finding};
use crate::model::EventKind;
use crate::model::RuleId;
use std::io::Read;
use std::path::Path;

/// Extensions no executable has a reason to wear.
const MISLEADING: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "ico", "txt", "md", "json", "css", "html", "woff", "ttf",
];

/// The executable format of a file's first bytes.
pub fn native_format(head: &[u8]) -> Option<&'static str> {
    let bytes: &[u8; 16] = head.get(..16)?.try_into().ok()?;
    match goblin::peek_bytes(bytes).ok()? {
        goblin::Hint::Elf(_) => Some("ELF"),
        goblin::Hint::Mach(_) | goblin::Hint::MachFat(_) => Some("Mach-O"),
        goblin::Hint::PE => Some("PE"),
        _ => None,
    }
}

/// Shannon entropy in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for b in data {
        counts[*b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Finds native executables the install wrote where they do not belong.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    if !input.unsigned_binary_alerting {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (p, e) in input.written() {
        if matches!(e.kind, EventKind::Symlink | EventKind::Mkdir) {
            continue;
        }
        let payload = input.expected_path(&p) || input.tool_cache(&p);
        let misleading = p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| MISLEADING.contains(&x.to_ascii_lowercase().as_str()));
        // Inside the payload only a package's own code writing a native
        // file under a misleading name is suspect (not the manager
        // unpacking what the package ships).
        if payload && !(misleading && procs.is_hook(e.pid)) {
            continue;
        }
        let Some(data) = read_head(&p, 32 << 20) else {
            continue;
        };
        let Some(format) = native_format(&data) else {
            continue;
        };
        let h = entropy(&data);
        let packed = data.windows(4).any(|w| w == b"UPX!");
        let mut detail = format!("{format}, entropy {h:.2} bits/byte");
        if packed {
            detail.push_str(", UPX-packed");
        }
        if misleading {
            detail.push_str(", under a misleading extension");
        }
        let ev = Evidence {
            paths: vec![p.display().to_string()],
            sha256: super::hidden::sha256_file(&p),
            detail: Some(detail),
            ..Evidence::default()
        };
        let title = format!(
            "Native executable written outside the package payload: {}",
            p.display()
        );
        let mut f = finding(
            RuleId::DropBinary,
            title,
            Some(e.pid),
            procs,
            ev,
            input.write_taken(&p),
        );
        if packed || h >= input.entropy_threshold {
            f.severity = Severity::High;
        }
        out.push(f);
    }
    out
}

/// Up to `max` bytes of a regular file.
pub fn read_head(p: &Path, max: u64) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(p).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut v = Vec::new();
    super::open_regular(p)?.take(max).read_to_end(&mut v).ok()?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_entropy() {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(64, 0);
        assert_eq!(native_format(&elf), Some("ELF"));
        assert_eq!(native_format(b"#!/bin/sh\necho hello there\n"), None);
        assert_eq!(native_format(b"MZ"), None);
        assert_eq!(entropy(&[0u8; 100]), 0.0);
        let all: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-9);
    }
}
