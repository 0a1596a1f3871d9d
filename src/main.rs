//! pkgwarden: argv[0] dispatch.
mod managers;

fn main() {}
