//! The log sinks' policy (`[log.jsonl]`, `[log.syslog]`): where every
//! stored report, and every later addition of its watch window, is also
//! sent for a fleet's log collector. Values are checked as they are parsed,
//! so that a bad one is a policy error at its line and column.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The sinks a policy configures; none by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSinks {
    /// JSON lines appended to a file, rotated by size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonl: Option<JsonlSink>,
    /// RFC 5424 messages to a syslog socket or collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog: Option<SyslogSink>,
}

impl LogSinks {
    /// True when no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.jsonl.is_none() && self.syslog.is_none()
    }
}

/// `[log.jsonl]`: a file that Vector, Fluent Bit or Filebeat tail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSink {
    /// The file (`~/` is the home directory).
    #[serde(deserialize_with = "de_path")]
    pub path: String,
    /// Rotate before a write would make the file larger than this.
    #[serde(default = "default_max_bytes", deserialize_with = "de_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` newest … `path.<keep>` oldest).
    #[serde(default = "default_keep", deserialize_with = "de_keep")]
    pub keep: u32,
}

/// `[log.syslog]`: RFC 5424 messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSink {
    /// `unix:/dev/log`, `udp:HOST:PORT` or `tcp:HOST:PORT`.
    #[serde(default = "default_target")]
    pub target: SyslogTarget,
    /// The facility of every message.
    #[serde(default = "default_facility")]
    pub facility: Facility,
    /// APP-NAME of every message.
    #[serde(default = "default_app_name", deserialize_with = "de_app_name")]
    pub app_name: String,
}

/// Largest `keep`: more rotated files than this is a typo.
pub const MAX_KEEP: u32 = 1000;

fn default_max_bytes() -> u64 {
    10 * 1024 * 1024
}

fn default_keep() -> u32 {
    5
}

fn default_target() -> SyslogTarget {
    SyslogTarget::Unix("/dev/log".into())
}

fn default_facility() -> Facility {
    Facility::User
}

fn default_app_name() -> String {
    "pkgwarden".into()
}

fn de_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if !(s.starts_with('/') || s.starts_with("~/")) || s.ends_with('/') {
        return Err(serde::de::Error::custom(format!(
            "log file `{s}` must be an absolute file path (or start with `~/`)"
        )));
    }
    Ok(s)
}

fn de_max_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = i64::deserialize(d)?;
    u64::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| {
        serde::de::Error::custom(format!("max_bytes {v} must be a positive number of bytes"))
    })
}

fn de_keep<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = i64::deserialize(d)?;
    u32::try_from(v)
        .ok()
        .filter(|&v| v <= MAX_KEEP)
        .ok_or_else(|| serde::de::Error::custom(format!("keep {v} must lie in 0..={MAX_KEEP}")))
}

fn de_app_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    // RFC 5424 APP-NAME: 1 to 48 printable US-ASCII characters, no space.
    let ok = (1..=48).contains(&s.len()) && s.bytes().all(|b| (33..=126).contains(&b));
    if !ok {
        return Err(serde::de::Error::custom(format!(
            "app_name `{s}` must be 1 to 48 printable ASCII characters without spaces"
        )));
    }
    Ok(s)
}

/// Where syslog messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    /// A local unix datagram socket (`/dev/log`).
    Unix(String),
    /// A collector over UDP (RFC 5426): `host:port`.
    Udp(String),
    /// A collector over TCP with octet-counting framing (RFC 6587):
    /// `host:port`.
    Tcp(String),
}

impl SyslogTarget {
    /// Parses `unix:PATH`, `udp:HOST:PORT` or `tcp:HOST:PORT` (`[v6]:PORT`).
    pub fn parse(s: &str) -> Result<SyslogTarget, String> {
        let (scheme, rest) = s.split_once(':').unwrap_or((s, ""));
        match scheme {
            "unix" if rest.starts_with('/') => Ok(SyslogTarget::Unix(rest.into())),
            "unix" => Err(format!(
                "syslog target `{s}`: a unix socket is an absolute path, e.g. `unix:/dev/log`"
            )),
            "udp" if host_port(rest).is_some() => Ok(SyslogTarget::Udp(rest.into())),
            "tcp" if host_port(rest).is_some() => Ok(SyslogTarget::Tcp(rest.into())),
            "udp" | "tcp" => Err(format!(
                "syslog target `{s}`: write it as `{scheme}:HOST:PORT`, e.g. `{scheme}:127.0.0.1:514`"
            )),
            _ => Err(format!(
                "syslog target `{s}`: start it with `unix:`, `udp:` or `tcp:`"
            )),
        }
    }
}

/// The port of `host:port` or `[v6]:port`, when both parts are there.
fn host_port(s: &str) -> Option<u16> {
    let (host, port) = s.rsplit_once(':')?;
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let ok = match bare {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && !host.contains([':', '/', ' ', '[', ']']),
    };
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    ok.then_some(port)
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyslogTarget::Unix(p) => write!(f, "unix:{p}"),
            SyslogTarget::Udp(a) => write!(f, "udp:{a}"),
            SyslogTarget::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

impl Serialize for SyslogTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SyslogTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SyslogTarget::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Syslog facilities (RFC 5424 table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    /// The facility's number.
    pub fn code(self) -> u8 {
        match self {
            Facility::Kern => 0,
            Facility::User => 1,
            Facility::Mail => 2,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Syslog => 5,
            Facility::Lpr => 6,
            Facility::News => 7,
            Facility::Uucp => 8,
            Facility::Cron => 9,
            Facility::Authpriv => 10,
            Facility::Ftp => 11,
            Facility::Local0 => 16,
            Facility::Local1 => 17,
            Facility::Local2 => 18,
            Facility::Local3 => 19,
            Facility::Local4 => 20,
            Facility::Local5 => 21,
            Facility::Local6 => 22,
            Facility::Local7 => 23,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for s in [
            "unix:/dev/log",
            "udp:127.0.0.1:514",
            "tcp:logs.example.test:6514",
            "tcp:[::1]:514",
        ] {
            assert_eq!(SyslogTarget::parse(s).unwrap().to_string(), s);
        }
        for bad in [
            "unix:dev/log",
            "udp:127.0.0.1",
            "udp::514",
            "tcp:::1:514",
            "tcp:h:0",
            "tcp:h:99999",
            "http://h:514",
            "",
        ] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_bad_values() {
        let s: LogSinks = toml::from_str("[jsonl]\npath = \"~/p.jsonl\"\n[syslog]\n").unwrap();
        let j = s.jsonl.unwrap();
        assert_eq!((j.max_bytes, j.keep), (10 * 1024 * 1024, 5));
        let y = s.syslog.unwrap();
        assert_eq!(y.target, SyslogTarget::Unix("/dev/log".into()));
        assert_eq!((y.facility.code(), y.app_name.as_str()), (1, "pkgwarden"));
        for bad in [
            "[jsonl]\npath = \"rel.jsonl\"\n",
            "[jsonl]\npath = \"/x\"\nmax_bytes = 0\n",
            "[jsonl]\npath = \"/x\"\nkeep = -1\n",
            "[jsonl]\npath = \"/x\"\nkeep = 1001\n",
            "[syslog]\nfacility = \"local9\"\n",
            "[syslog]\napp_name = \"two words\"\n",
            "[syslog]\ntarget = \"udp:h\"\n",
            "[syslog]\nport = 514\n",
        ] {
            assert!(toml::from_str::<LogSinks>(bad).is_err(), "{bad}");
        }
    }
}
