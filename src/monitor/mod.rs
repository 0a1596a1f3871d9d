//! What the supervisor observes: syscalls (notify), processes, the network
//! (proxy), persistence files (snapshot), and them again after the install
//! (watch).

pub mod attribution;
pub mod cmsg;
pub mod detonate;
pub mod keep;
pub mod notify;
pub mod procopen;
pub mod procs;
pub mod proxy;
pub mod setup;
pub mod snapshot;
pub mod supervisor;
pub mod watch;
