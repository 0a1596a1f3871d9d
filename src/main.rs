//! pkgwarden: stops malicious libraries at install time.
//!
//! One binary. Called as `pkgwarden`, it is the command line; called through a
//! shim (a link named `pip`, `npm`, `gem` …), it stands in for that manager.
//! It only dispatches on argv[0]; the stages are the library (`src/lib.rs`).

use pkgwarden::managers::Tool;
use pkgwarden::policy::Overrides;
use pkgwarden::{cli, invoke, monitor, sandbox, shim};
use std::path::Path;

fn main() {
    let all: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let name = all
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tool = Tool::from_command(&name);
    // The hook wrapper (npm's script shell, called by pkgwarden's own name,
    // never a shim's) confines itself and execs the shell.
    if tool.is_none() && sandbox::hook::is_invocation(&all) {
        std::process::exit(sandbox::hook::main(all));
    }
    let mut args = all.into_iter();
    let argv0 = args.next().unwrap_or_default();
    let code = match tool {
        Some(tool) => {
            // What a watch window found since the last call, once.
            if !shim::inside_monitored_install() {
                monitor::watch::print_notices();
            }
            invoke::invoke(invoke::Invocation {
                tool,
                name,
                args: args.collect(),
                explicit: None,
                overrides: Overrides::default(),
                sandbox: invoke::SandboxOpts::from_env(),
            })
        }
        None => cli::main(std::iter::once(argv0).chain(args).collect()),
    };
    std::process::exit(code);
}
