//! What the supervisor observes: syscalls (notify), processes, the network
//! (proxy), and persistence files (snapshot).

pub mod notify;
pub mod procs;
pub mod proxy;
pub mod snapshot;
