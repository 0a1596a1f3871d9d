//! Helper `eyes11`: round 11 of the fresh-eyes attack (issue 9), first on
//! a12dcb1 (the supervisor opens procfs files for the install and hands the
//! descriptor over). Each test is one attempt with an inert fixture (a
//! stand-in `gem` running a Python hook, or a small C program it runs);
//! markers stay in the test's HOME; no network. A test marked
//! `ignore = "round 11: …"` fails on the binary it was written against.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use support::*;

/// A stand-in `gem` whose install runs `code` with python3.
fn hook(code: &str) -> (ShimEnv, tempfile::TempDir) {
    let (env, bin) = stand_in("#!/bin/sh\nexec \"$PY\" \"$(dirname \"$0\")/hook.py\"\n");
    fs::write(bin.path().join("hook.py"), code).unwrap();
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    (env, bin)
}

/// A hook that compiles nothing but runs `prog` (C source `src`, built
/// here with `cc`) with `args` (Python expressions), printing its output.
fn c_hook(src: &str, args: &str) -> (ShimEnv, tempfile::TempDir) {
    let cc = which::which("cc").expect("a C compiler (cc) for the fixture");
    let (env, bin) = hook(&format!(
        r#"
import os, subprocess
prog = os.path.dirname(os.path.abspath(__file__)) + "/prog"
r = subprocess.run([prog{args}], capture_output=True, text=True, timeout=90)
print(r.stdout, r.stderr)
"#
    ));
    let file = bin.path().join("prog.c");
    fs::write(&file, src).unwrap();
    let out = run(std::process::Command::new(cc)
        .args(["-O1", "-pthread", "-o"])
        .arg(bin.path().join("prog"))
        .arg(&file));
    assert_success(&out, "cc prog.c");
    (env, bin)
}

/// One `pkgwarden run --sandbox --mode MODE -- gem install x` in `cwd`
/// with `vars`: exit code, everything printed, and the report it left.
fn install(env: &ShimEnv, mode: &str, cwd: &Path, vars: &[(&str, &str)]) -> (i32, String, Value) {
    let before = env.report_files();
    let out = run_with_timeout(
        env.pkgwarden()
            .env("PY", python3())
            .envs(vars.iter().copied())
            .current_dir(cwd)
            .args([
                "run",
                "--sandbox",
                "--mode",
                mode,
                "--",
                "gem",
                "install",
                "x",
            ]),
        std::time::Duration::from_secs(150),
    );
    let text = format!("{mode}:\n{}{}", stdout_str(&out), stderr_str(&out));
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1, "one report expected: {text}");
    let report: Value = serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), text, report)
}

/// A C program racing the supervisor's reopen of a descriptor
/// (`monitor::procopen::open`): the supervisor reads `/proc/<pid>/fd/100`
/// (a pipe: a reopen of the caller's own object, with write access), then
/// opens it; a second thread puts an `O_PATH` descriptor of `argv[1]` at
/// 100 in between. The supervisor, unsandboxed, opens that file with the
/// caller's `O_WRONLY|O_TRUNC` before its check of what it opened.
const TRUNC_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
static int pw, tfd;
static void *flip(void *a) { (void)a; for (;;) { dup2(pw, 100); dup2(tfd, 100); } return NULL; }
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    tfd = open(argv[1], O_PATH);
    if (tfd < 0) { perror("O_PATH"); return 2; }
    int p[2]; if (pipe(p)) return 2;
    pw = p[1];
    dup2(pw, 100);
    pthread_t t; pthread_create(&t, NULL, flip, NULL);
    int ok = 0, errs[200] = {0};
    for (int i = 0; i < 50000; i++) {
        int fd = open("/proc/self/fd/100", O_WRONLY | O_TRUNC);
        if (fd >= 0) { ok++; close(fd); } else errs[errno < 200 ? errno : 0]++;
        struct stat st;
        if (stat(argv[1], &st) == 0 && st.st_size == 0) {
            printf("EYES11-TRUNCATED after %d tries\n", i);
            return 0;
        }
    }
    printf("not truncated: %d opened, EACCES %d, EPERM %d\n", ok, errs[13], errs[1]);
    return 1;
}
"#;

/// Class: the supervisor as a confused deputy (a12dcb1). A reopen of the
/// caller's own pipe through `/proc/self/fd/N` may ask for write access
/// and `O_TRUNC`; `procopen::open` reads the link (a pipe), then opens it
/// with the caller's flags, then checks what it opened. A descriptor
/// swapped in between (`dup2` of an `O_PATH` descriptor of `~/.bashrc`,
/// which landlock refuses the install to write) is opened by the
/// unsandboxed supervisor with `O_TRUNC`: the file is emptied although
/// the descriptor is then refused. Fixed: the object is pinned with
/// `O_PATH`, checked, and only it is opened.
#[test]
fn a_descriptor_swapped_under_a_reopen_does_not_truncate_a_refused_file() {
    let (env, _bin) = c_hook(TRUNC_C, ", os.environ[\"HOME\"] + \"/.bashrc\"");
    let work = env.home.path().join("work");
    let (_, text, _) = install(&env, "protect", &work, &[]);
    let rc = fs::read_to_string(env.home.path().join(".bashrc")).unwrap();
    assert_eq!(rc, "# rc\n", "{text}");
    assert!(!text.contains("EYES11-TRUNCATED"), "{text}");
}

/// Class: the supervisor as a confused deputy (a12dcb1), by its
/// credentials. procfs decides some things by the credentials of whoever
/// opened the file (`file->f_cred`), not of whoever reads it:
/// `/proc/<pid>/pagemap` shows page frame numbers (physical addresses,
/// what a rowhammer or kernel exploit looks for) only to an opener with
/// `CAP_SYS_ADMIN`. A root install holds none (`spawn::INSPECTING_CAPS`);
/// the supervisor, which now opens the install's own entries for it,
/// holds it: the install reads its physical addresses. As
/// pkgwarden-test neither holds it, and the test passes.
#[test]
#[ignore = "round 11: a root install reads physical addresses in its pagemap opened by the supervisor"]
fn the_supervisor_does_not_lend_its_capabilities_to_a_procfs_open() {
    let (env, _bin) = hook(
        r##"
import ctypes, mmap, struct
m = mmap.mmap(-1, 4096)
m[0:1] = b"x"
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
try:
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(addr // 4096 * 8)
        v = struct.unpack("Q", f.read(8))[0]
    print("EYES11-PAGEMAP present=%d pfn=%#x" % (v >> 63, v & ((1 << 55) - 1)))
except OSError as e:
    print("EYES11-PAGEMAP refused", e.errno)
"##,
    );
    let work = env.home.path().join("work");
    let (_, text, _) = install(&env, "protect", &work, &[]);
    assert!(text.contains("EYES11-PAGEMAP"), "{text}");
    assert!(
        text.contains("pfn=0x0\n") || text.contains("pfn=0x0 ") || text.contains("refused"),
        "{text}"
    );
}
