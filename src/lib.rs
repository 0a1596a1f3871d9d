//! pkgwarden as a library: every stage, so that tests (and the binary's
//! `main`) drive each one. See README.md, "Layout".

pub mod child;
pub mod ci;
pub mod cli;
pub mod cooldown;
pub mod detect;
pub mod docfilter;
pub mod doctor;
pub mod exit;
pub mod explain;
pub mod glob;
pub mod intel;
pub mod invocation;
pub mod invoke;
pub mod judge;
pub mod managers;
pub mod model;
pub mod monitor;
pub mod passthrough;
pub mod paths;
pub mod policy;
pub mod procfs;
pub mod quarantine;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod shim;
pub mod suggest;
pub mod sys;
pub mod unchecked;
pub mod verdict;
