//! The integration tests, one binary: each file beside this one is a
//! module (run one with `cargo test --test integration <file>::`), and
//! `support/` is what they share.

mod support;

mod attack;
mod attack_cache;
mod attack_hooks;
mod attack_nest;
mod attack_root;
mod attack_round6;
mod attack_round7;
mod attack_round8;
mod attack_round9;
mod bench_sandbox;
mod brew;
mod ci;
mod cli;
mod conda;
mod cooldown;
mod detect;
mod dev_paths;
mod docs;
mod doctor;
mod explain;
mod eyes;
mod eyes11;
mod fidelity;
mod first10;
mod fnlen;
mod from_home;
mod gem_plugins;
mod gem_startup;
mod hook_aliases;
mod hooks;
mod imports;
mod intel;
mod intel_tls;
mod leftovers9;
mod nest;
mod nest_gem;
mod netsec;
mod old_landlock;
mod origins;
mod passthrough;
mod paths;
mod pytools;
mod races;
mod registries;
mod report;
mod sandbox;
mod shell;
mod sinks;
mod stages;
mod state;
mod watch;
mod yarn_pnpm;
