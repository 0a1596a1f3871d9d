//! The one rule catalog: every rule pkgwarden reports, with its default
//! severity, its ATT&CK techniques and its wording. Detectors take a rule's
//! defaults from here, and the SARIF output describes its rules from here,
//! so the two cannot disagree.

use super::Severity;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What one rule is about.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// The rule's id.
    pub id: RuleId,
    /// Severity when nothing raises or lowers it.
    pub severity: Severity,
    /// ATT&CK technique ids (`T1546.004` …).
    pub attack: &'static [&'static str],
    /// The words a detector starts a finding's title with (kept as they
    /// were when findings and SARIF had separate lists: the report's titles
    /// do not change).
    pub title: &'static str,
    /// One line (SARIF `shortDescription`, ECS `rule.name`).
    pub short: &'static str,
    /// A few sentences (SARIF `fullDescription`).
    pub full: &'static str,
}

/// Builds [`RuleId`] (one variant per rule, serialized as its id) and its
/// catalog from one table, so that an id is written once.
macro_rules! catalog {
    ($(
        $variant:ident = $id:literal {
            severity: $severity:ident,
            attack: [$($attack:literal),* $(,)?],
            title: $title:literal,
            short: $short:literal,
            full: $full:literal $(,)?
        }
    ),* $(,)?) => {
        /// A rule's id, as THREATS.md names it; serialized as that name
        /// (`persist.shell-rc`). Read through [`FromStr`](std::str::FromStr),
        /// so that an unknown id in a policy file says which ones exist.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String")]
        pub enum RuleId {
            $(
                #[doc = $short]
                #[serde(rename = $id)]
                $variant,
            )*
        }

        impl RuleId {
            /// Every rule, in catalog order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant),*];

            /// The id as written in reports and policies.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $id,)*
                }
            }

            /// The rule's catalog entry.
            pub fn meta(self) -> &'static Rule {
                match self {
                    $(RuleId::$variant => &Rule {
                        id: RuleId::$variant,
                        severity: Severity::$severity,
                        attack: &[$($attack),*],
                        title: $title,
                        short: $short,
                        full: $full,
                    },)*
                }
            }
        }
    };
}

catalog! {
    PersistShellRc = "persist.shell-rc" {
        severity: High,
        attack: ["T1546.004"],
        title: "Shell start-up file written",
        short: "Shell start-up file written or replaced",
        full: "An install wrote, replaced, linked or truncated a shell start-up file (~/.bashrc, ~/.profile, ~/.zshrc, fish config, /etc/profile.d …), which runs code in every new shell.",
    },
    PersistSystemd = "persist.systemd" {
        severity: High,
        attack: ["T1543.002"],
        title: "systemd unit or timer created",
        short: "systemd unit or timer created",
        full: "An install created a systemd unit or timer, or ran systemctl to enable or start one.",
    },
    PersistAutostart = "persist.autostart" {
        severity: High,
        attack: ["T1547.013"],
        title: "XDG autostart entry",
        short: "XDG autostart entry created",
        full: "An install created a desktop autostart entry that runs at the next login.",
    },
    PersistCron = "persist.cron" {
        severity: High,
        attack: ["T1053.003"],
        title: "cron or at job",
        short: "cron or at job created",
        full: "An install ran crontab or at, or wrote to the cron spool or /etc/cron*.",
    },
    PersistPythonStartup = "persist.python-startup" {
        severity: High,
        attack: ["T1546.018"],
        title: "Python start-up hook",
        short: "Python start-up hook added",
        full: "A .pth file with an executable line, or sitecustomize.py / usercustomize.py, was added or changed: it runs every time Python starts.",
    },
    TamperInstalledPackage = "tamper.installed-package" {
        severity: High,
        attack: ["T1195.002", "T1554"],
        title: "File of an installed package no longer matches its RECORD",
        short: "Installed package modified",
        full: "A file of a distribution the install did not install (pip/__init__.py …) no longer matches the sha256 its RECORD lists: code added to another package runs wherever it is imported.",
    },
    PersistPathHijack = "persist.path-hijack" {
        severity: High,
        attack: ["T1574.007"],
        title: "Executable placed ahead of system commands",
        short: "Executable placed ahead of system commands",
        full: "A new executable appeared in a PATH entry searched before /usr/bin that the package does not declare, or that shadows a common command.",
    },
    PersistSsh = "persist.ssh" {
        severity: High,
        attack: ["T1098.004"],
        title: "SSH access or start-up file written",
        short: "SSH access or start-up file written",
        full: "An install wrote ~/.ssh/authorized_keys, ~/.ssh/rc or ~/.ssh/config.",
    },
    PersistPmConfig = "persist.pm-config" {
        severity: High,
        attack: ["T1574", "T1546"],
        title: "Package-manager configuration tampered",
        short: "Package-manager configuration tampered with",
        full: "An install changed a package manager's configuration (.npmrc, pip.conf, .pypirc, .condarc, .gemrc …) or added a rubygems plugin.",
    },
    PersistGit = "persist.git" {
        severity: High,
        attack: ["T1546"],
        title: "Git hook or git configuration written",
        short: "Git hooks or git configuration written",
        full: "An install wrote git hooks, ~/.gitconfig settings that run programs, or git template directories.",
    },
    PersistCi = "persist.ci" {
        severity: High,
        attack: ["T1195.002", "T1219"],
        title: "CI pipeline or runner file written",
        short: "CI pipeline or runner files written",
        full: "An install wrote CI workflow files or self-hosted runner files.",
    },
    PersistAgentHook = "persist.agent-hook" {
        severity: High,
        attack: ["T1546"],
        title: "AI agent or editor auto-run hook written",
        short: "AI agent or editor auto-run hook written",
        full: "An install wrote settings of an AI agent, editor task or MCP configuration that run commands automatically, or the start-up file of an editor or another program (tmux, less, gdb, irb, IPython, R, psql …) that runs code when it starts.",
    },
    PersistSystem = "persist.system" {
        severity: High,
        attack: ["T1574.006", "T1548.003", "T1037.004"],
        title: "System boot, loader or privilege file written",
        short: "System-wide boot, loader or privilege file written",
        full: "An install wrote /etc/ld.so.preload, sudoers, rc.local, init scripts, motd scripts or udev rules.",
    },
    PersistLaunchd = "persist.launchd" {
        severity: High,
        attack: ["T1543.001", "T1543.004"],
        title: "Launch agent or daemon",
        short: "macOS launch agent or daemon created",
        full: "An install created a LaunchAgent or LaunchDaemon, or ran launchctl to load one.",
    },
    HiddenScript = "hidden.script" {
        severity: Medium,
        attack: ["T1564.001", "T1059"],
        title: "Script dropped in a hidden or scratch place",
        short: "Script dropped in a hidden or scratch directory",
        full: "A new script or executable file appeared in a hidden directory of the home directory, or in ~/.local, ~/.cache, ~/.config, /tmp, /var/tmp or /dev/shm outside the places the install may write.",
    },
    DropBinary = "drop.binary" {
        severity: Medium,
        attack: ["T1105", "T1027.002"],
        title: "Native executable written outside the package payload",
        short: "Native executable written outside the package payload",
        full: "A native executable (ELF, Mach-O, PE, also under a misleading name) was written outside the package's own files; packed or high-entropy ones are worse.",
    },
    ExecDropped = "exec.dropped" {
        severity: High,
        attack: ["T1059", "T1620"],
        title: "A file written during the install was executed",
        short: "A file written during the install was executed",
        full: "A process executed a file the install had just written, or ran from a scratch directory or anonymous memory.",
    },
    ExecSuspicious = "exec.suspicious" {
        severity: Medium,
        attack: ["T1059.004", "T1528", "T1080", "T1548.003", "T1496"],
        title: "Install script ran a tool no install needs",
        short: "An install script ran a tool no install needs",
        full: "A lifecycle script ran a downloader, a network tool, a credential helper, a secret scanner, a publish command, a privilege tool or a miner.",
    },
    CredRead = "cred.read" {
        severity: High,
        attack: ["T1552.001", "T1552.004"],
        title: "Credential store opened",
        short: "Credential store opened",
        full: "Something other than the package manager reading its own configuration opened SSH keys, cloud or registry credentials, tokens, browser profiles or wallets.",
    },
    CredEnv = "cred.env" {
        severity: Low,
        attack: ["T1552.001"],
        title: "Secrets left in the install's environment",
        short: "Secrets exposed in the install's environment",
        full: "Variables named like tokens or keys stayed in the environment the install scripts ran with.",
    },
    NetUnexpectedHost = "net.unexpected-host" {
        severity: Medium,
        attack: ["T1071.001", "T1041"],
        title: "Request to a host outside the allowed set",
        short: "Connection to a host outside the allowed set",
        full: "The install asked the proxy for a host that is neither a configured registry nor allowed by policy.",
    },
    NetDirect = "net.direct" {
        severity: High,
        attack: ["T1571", "T1095"],
        title: "Traffic that bypasses the proxy",
        short: "Network traffic that bypassed the proxy",
        full: "A process connected or sent to an address other than pkgwarden's proxy: a raw IP, a non-standard port.",
    },
    NetExfilService = "net.exfil-service" {
        severity: High,
        attack: ["T1567"],
        title: "Known exfiltration service contacted",
        short: "Connection to an exfiltration, paste or tunnel service",
        full: "The install contacted a service known for receiving stolen data, pastes or tunnels.",
    },
    NetMetadata = "net.metadata" {
        severity: High,
        attack: ["T1552.005"],
        title: "Cloud metadata service contacted",
        short: "Cloud metadata service contacted",
        full: "The install contacted a cloud instance metadata address, where machine credentials are served.",
    },
    NetDns = "net.dns" {
        severity: Medium,
        attack: ["T1071.004", "T1048"],
        title: "DNS resolved by the install itself",
        short: "DNS resolved by the install itself",
        full: "A process sent DNS queries itself instead of going through the proxy; long or random-looking names suggest data smuggled out in DNS.",
    },
    NetLocalSocket = "net.local-socket" {
        severity: High,
        attack: ["T1611", "T1552"],
        title: "Privileged local socket used",
        short: "Privileged local socket opened",
        full: "A process connected to the Docker or containerd socket, the SSH or GPG agent, or the D-Bus session bus.",
    },
    ProcLingering = "proc.lingering" {
        severity: High,
        attack: ["T1059", "T1564"],
        title: "Process left running after the install",
        short: "Processes still running after the install",
        full: "Descendants of the install were still alive when the package manager exited (detached, daemonised, double-forked).",
    },
    SandboxEscape = "sandbox.escape" {
        severity: High,
        attack: ["T1611", "T1055"],
        title: "Syscall a package install never needs",
        short: "System call a package install never needs",
        full: "A process called ptrace, bpf, mount, namespace or module calls, or other syscalls that only an escape attempt needs; harmless runtime probes are informational.",
    },
    CredPerm = "cred.perm" {
        severity: High,
        attack: ["T1222.002", "T1552.004"],
        title: "Credential store's permissions or owner changed",
        short: "Credential store's permissions or owner changed",
        full: "A chmod that opens a credential store (~/.ssh and its keys, cloud and registry tokens) to other users, or a chown of one, tried or done. The sandbox refuses it outside the install's write grants.",
    },
    PermSetuid = "perm.setuid" {
        severity: High,
        attack: ["T1548.001"],
        title: "Setuid or setgid bit asked for on a file",
        short: "Setuid or setgid bit asked for on a file",
        full: "A chmod asking for a setuid or setgid bit on a file: a program that would run with its owner's rights after the install. No install needs one; the sandbox refuses it.",
    },
    PermOutside = "perm.outside" {
        severity: Medium,
        attack: ["T1222.002"],
        title: "Permissions or owner changed outside the install's places",
        short: "Permissions or owner changed outside the install's places",
        full: "A chmod or chown of a file outside the install's write grants, refused by the sandbox (landlock has no right for them; the supervisor judges and performs them).",
    },
    TamperManagerCache = "tamper.manager-cache" {
        severity: High,
        attack: ["T1195.002", "T1554"],
        title: "Package code wrote into the manager's cache",
        short: "Package code wrote into the manager's cache",
        full: "Package code (a build backend, setup.py, extconf.rb) tried to write the manager's own cache, where a later install takes a built wheel or a downloaded archive without building or checking it. The nested domain refuses it.",
    },
    TamperPkgwarden = "tamper.pkgwarden" {
        severity: High,
        attack: ["T1562.001"],
        title: "pkgwarden's own policy, state or binary tampered with",
        short: "pkgwarden's own files tampered with",
        full: "An install wrote, replaced or removed pkgwarden's policy, cache (kernel probe, manager facts), state (reports), shims or binary, which would blind or weaken the next install. The sandbox refuses it in every mode but audit.",
    },
    SandboxUnnested = "sandbox.unnested" {
        severity: Medium,
        attack: ["T1562.001"],
        title: "Package code ran with the install's rights",
        short: "Package code ran outside its nested domain",
        full: "A process that runs package code (a build backend, setup.py, a lifecycle script) never acknowledged the nested domain the preload library confines it to (a static or setuid interpreter, LD_PRELOAD removed, the library missing), so it could write everything the install may write.",
    },
    IntelKnownMalicious = "intel.known-malicious" {
        severity: Critical,
        attack: ["T1195.002", "T1204.005"],
        title: "Known malicious package",
        short: "Download of a package the offline feed names as malicious",
        full: "The install asked its registry for the archive of a package version that the imported OSV feed (pkgwarden intel import) records as malicious; outside audit mode the proxy refused it before a byte was downloaded.",
    },
}

impl RuleId {
    /// The family: the part of the id before the dot (`persist`).
    pub fn family(self) -> &'static str {
        let id = self.as_str();
        id.split_once('.').map_or(id, |(f, _)| f)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule id pkgwarden does not know (a policy naming it would silently
/// match nothing).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule `{id}`; {known}")]
pub struct UnknownRule {
    id: String,
    /// The ids of the family the unknown one names, or the families.
    known: String,
}

impl std::str::FromStr for RuleId {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<RuleId, UnknownRule> {
        if let Some(r) = RuleId::ALL.iter().find(|r| r.as_str() == s) {
            return Ok(*r);
        }
        let family = s.split_once('.').map_or(s, |(f, _)| f);
        let same: Vec<&str> = RuleId::ALL
            .iter()
            .filter(|r| r.family() == family)
            .map(|r| r.as_str())
            .collect();
        let known = if same.is_empty() {
            let mut families: Vec<&str> = Vec::new();
            for f in RuleId::ALL.iter().map(|r| r.family()) {
                if !families.contains(&f) {
                    families.push(f);
                }
            }
            format!("rule ids start with one of {}", families.join(", "))
        } else {
            format!("the {family} rules are {}", same.join(", "))
        };
        Err(UnknownRule {
            id: s.to_string(),
            known,
        })
    }
}

impl TryFrom<String> for RuleId {
    type Error = UnknownRule;

    fn try_from(s: String) -> Result<RuleId, UnknownRule> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids as reports wrote them before the catalog: a renamed id
    /// would break stored reports, policies and dashboards.
    const IDS: &[&str] = &[
        "persist.shell-rc",
        "persist.systemd",
        "persist.autostart",
        "persist.cron",
        "persist.python-startup",
        "tamper.installed-package",
        "persist.path-hijack",
        "persist.ssh",
        "persist.pm-config",
        "persist.git",
        "persist.ci",
        "persist.agent-hook",
        "persist.system",
        "persist.launchd",
        "hidden.script",
        "drop.binary",
        "exec.dropped",
        "exec.suspicious",
        "cred.read",
        "cred.env",
        "net.unexpected-host",
        "net.direct",
        "net.exfil-service",
        "net.metadata",
        "net.dns",
        "net.local-socket",
        "proc.lingering",
        "sandbox.escape",
        "cred.perm",
        "perm.setuid",
        "perm.outside",
        "tamper.manager-cache",
        "tamper.pkgwarden",
        "sandbox.unnested",
        "intel.known-malicious",
    ];

    #[test]
    fn every_rule_id_round_trips_through_serde_as_its_name() {
        assert_eq!(RuleId::ALL.len(), IDS.len());
        for (r, id) in RuleId::ALL.iter().zip(IDS) {
            assert_eq!(r.as_str(), *id);
            assert_eq!(r.to_string(), *id);
            assert_eq!(serde_json::to_string(r).ok(), Some(format!("\"{id}\"")));
            assert_eq!(
                serde_json::from_str::<RuleId>(&format!("\"{id}\"")).ok(),
                Some(*r)
            );
            assert_eq!(id.parse::<RuleId>(), Ok(*r));
            assert_eq!(r.meta().id, *r);
        }
    }

    #[test]
    fn an_unknown_rule_id_is_an_error_that_names_the_known_ones() {
        let e = "persist.shellrc".parse::<RuleId>().expect_err("unknown");
        let text = e.to_string();
        assert!(text.contains("`persist.shellrc`"), "{text}");
        assert!(text.contains("persist.shell-rc"), "{text}");
        assert!(!text.contains("cred.read"), "{text}");
        let text = "nosuch".parse::<RuleId>().expect_err("unknown").to_string();
        assert!(text.contains("persist, tamper, hidden"), "{text}");
        assert!(serde_json::from_str::<RuleId>("\"future.rule\"").is_err());
    }

    #[test]
    fn catalog_entries_are_complete() {
        for r in RuleId::ALL {
            let m = r.meta();
            assert!(!m.attack.is_empty(), "{r}");
            for a in m.attack {
                let (t, sub) = a.split_once('.').unwrap_or((a, "000"));
                assert!(
                    t.len() == 5
                        && t.starts_with('T')
                        && t[1..].bytes().all(|b| b.is_ascii_digit())
                        && sub.len() == 3
                        && sub.bytes().all(|b| b.is_ascii_digit()),
                    "{r}: {a}"
                );
            }
            for text in [m.title, m.short, m.full] {
                assert!(!text.is_empty() && text.trim() == text, "{r}");
            }
            assert!(m.full.ends_with('.'), "{r}");
        }
    }
}
