//! What the supervisor observes: syscalls (notify), processes, the network
//! (proxy), persistence files (snapshot), and them again after the install
//! (watch).

pub mod detonate;
pub mod notify;
pub mod procs;
pub mod proxy;
pub mod snapshot;
pub mod watch;
