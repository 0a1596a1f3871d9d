//! pkgwarden-shim: what the shims (`pip`, `npm`, `python` … links) run.
//!
//! A command that is not an install becomes the real manager at the cost
//! of one `execve` of this small binary; anything else (an install, an
//! environment or state it does not understand) is handed to the full
//! `pkgwarden` beside it, under the name it was called by, which decides
//! exactly as it did before this executable existed. The decision is
//! `pkgwarden::passthrough::decide`: the full binary's own classification.
//!
//! `no_main`: the Rust runtime's start-up (a read of /proc/self/maps for
//! the main thread's stack guard, the signal handlers for stack overflow)
//! is skipped; std still has argv and the environment (glibc hands them
//! to its constructors). A test build (`cargo test --all-targets`) is an
//! ordinary harness with no tests: the decision is tested in the library
//! (`passthrough`) and by tests/shim_exec.rs.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use pkgwarden::passthrough::{self, Decision};
#[cfg(not(test))]
use pkgwarden::shim;
#[cfg(not(test))]
use std::ffi::OsString;
#[cfg(not(test))]
use std::path::PathBuf;

/// The C entry point; the arguments are read through std.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let mut all = std::env::args_os();
    let argv0 = all.next().unwrap_or_default();
    let args: Vec<OsString> = all.collect();
    let (program, arg0) = match passthrough::decide(&argv0, &args) {
        Decision::Exec(real) => {
            let arg0 = real.clone().into_os_string();
            (real, arg0)
        }
        Decision::Defer(_) => match full_binary() {
            Some(full) => (full, argv0),
            None => {
                eprintln!(
                    "pkgwarden: cannot find pkgwarden beside {}: the shims need both executables; fix: reinstall pkgwarden (install.sh), or `pkgwarden shims install` again",
                    std::env::current_exe().unwrap_or_default().display()
                );
                return 126;
            }
        },
    };
    let err = shim::exec(&program, &arg0, &args);
    eprintln!("pkgwarden: cannot run {}: {err}", program.display());
    // A shell answers 126 for a command found but not executable.
    126
}

/// The full pkgwarden: the `pkgwarden` beside this executable's real path.
#[cfg(not(test))]
fn full_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let full = me.with_file_name(pkgwarden::procfs::BINARIES[0]);
    full.is_file().then_some(full)
}
