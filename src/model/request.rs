//! What went through the proxy.

use serde::Serialize;

/// What the proxy decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A registry or an allowed host.
    Allowed,
    /// Not expected, let through (protect, audit).
    Unexpected,
    /// Refused.
    Denied,
}

/// One request through the proxy.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Request {
    /// Milliseconds since the install started.
    pub ms: u64,
    /// The sandboxed process that opened the connection, when known.
    pub pid: Option<i32>,
    /// `CONNECT`, `GET`, …
    pub method: String,
    /// The host asked for.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The decision.
    pub verdict: Verdict,
    /// Why, when not plainly allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes from the client.
    pub bytes_up: u64,
    /// Bytes to the client.
    pub bytes_down: u64,
    /// How long the request (or tunnel) lasted.
    pub duration_ms: u64,
    /// Still open when the install ended (a tunnel a detached process kept);
    /// its bytes and duration are those seen until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_at_end: bool,
    /// Allowed, but the host could not be reached: what failed, to which
    /// `host:port`, and what the proxy answered (`connection refused to
    /// 127.0.0.1:9 (502)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_failure: Option<String>,
    /// The archive this request downloads is in the offline feed of known
    /// malicious packages (`pkgwarden intel import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_malicious: Option<KnownMalicious>,
    /// Versions this metadata response no longer lists: the release-age
    /// cooldown held them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<crate::model::cooldown::HeldBack>,
    /// A metadata response the cooldown's filter could not apply to (no
    /// dates, unreadable): why, and whether it was refused or let through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_unfiltered: Option<String>,
}

/// A package archive the offline feed names as malicious.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KnownMalicious {
    /// The feed's ecosystem key (`npm`, `pypi` …).
    pub ecosystem: String,
    /// The package, as the URL named it.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The OSV id.
    pub id: String,
    /// The record's summary.
    pub summary: String,
}
