//! What the supervisor observes about processes (more monitors come with the sandbox).

pub mod notify;
pub mod procs;
pub mod proxy;
