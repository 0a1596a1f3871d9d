//! What the monitors of one install are told, derived from the plan and the
//! policy before the install starts: the snapshot's scope, the proxy's
//! policy, and what the seccomp supervisor watches and refuses.

use super::notify::{NetPolicy, Watch, WriteGrants};
pub use super::proxy::ProxyPolicy;
use super::proxy::Upstream;
use super::snapshot::Scope;
use crate::model::plan::{InstallPlan, ProjectManifest};
use crate::policy::{DenyClass, Mode, Policy};
use crate::sandbox::landlock::{FsSpec, Grant};
use crate::sandbox::prepare::Place;
use crate::sandbox::seccomp::Rules;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The site-packages (or dist-packages) among the install's write roots.
pub fn site_dirs(plan: &InstallPlan) -> Vec<PathBuf> {
    plan.write_roots
        .iter()
        .filter(|r| {
            r.file_name()
                .is_some_and(|n| n == "site-packages" || n == "dist-packages")
        })
        .cloned()
        .collect()
}

/// The snapshot's scope: the policy's start-up paths and the plan's own,
/// the site dirs, PATH, and — stat only — pkgwarden's own places and the
/// credential stores (their mode and owner: a chmod or chown that slipped
/// past the supervisor).
pub fn scope(plan: &InstallPlan, policy: &Policy, at: &Place, fs: &FsSpec) -> Scope {
    let mut watched = policy.startup_paths.linux.clone();
    watched.extend(plan.watch_patterns.iter().cloned());
    let mut scope = Scope::new(
        at.home.clone(),
        at.cwd.clone(),
        &watched,
        site_dirs(plan),
        std::env::var_os("PATH").as_deref(),
    );
    scope
        .stat_only
        .extend(fs.protected.iter().chain(&fs.secrets).cloned());
    if let Some(d) = crate::paths::state_dir() {
        scope.stat_only.push(d.join("reports"));
    }
    scope
}

/// The copy of pkgwarden's own files the install's rights cover, taken
/// before it: put back after it if they changed anyway (audit changes
/// nothing, this neither).
pub fn kept(mode: Mode, fs: &FsSpec) -> super::keep::Kept {
    match mode {
        Mode::Audit => super::keep::Kept::default(),
        _ => super::keep::take(&fs.supervised()),
    }
}

/// The proxy's policy: the install's only way out. It lets through the
/// registries and the hosts the policy allows for this manager; unknown
/// hosts pass in protect and audit (recorded as unexpected) and are refused
/// in block. The manager's own proxy setting (conda's proxy_servers, pip's
/// proxy …) is overridden inside the sandbox: the proxy chains to it.
pub fn proxy_policy(plan: &InstallPlan, policy: &Policy, env: &[(String, String)]) -> ProxyPolicy {
    let mut allowed: Vec<String> = plan
        .registries
        .iter()
        .filter_map(|u| host_port_default(u))
        .collect();
    allowed.extend(plan.facts.download_hosts.iter().map(|h| with_port(h, 443)));
    for host in policy
        .endpoints
        .allow
        .get(plan.tool.name())
        .into_iter()
        .flatten()
    {
        if host
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        {
            allowed.push(host.to_ascii_lowercase());
        } else {
            allowed.push(with_port(host, 443));
            allowed.push(with_port(host, 80));
        }
    }
    ProxyPolicy {
        allowed,
        allow_unknown: policy.mode != Mode::Block,
        tolerated: policy
            .allow
            .iter()
            .filter(|a| !a.expired(std::time::SystemTime::now()))
            .flat_map(|a| a.endpoints.iter().cloned())
            .collect(),
        deny_raw_ip: policy.endpoints.deny.contains(&DenyClass::RawIp),
        upstream: Upstream::from_env(env).or_else(|| {
            let mut own: Vec<(String, String)> = env
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("NO_PROXY"))
                .cloned()
                .collect();
            own.push(("HTTPS_PROXY".into(), plan.proxy.clone()?));
            Upstream::from_env(&own)
        }),
        limits: Default::default(),
        // The feed is read only when one was imported: no feed, one failed
        // open per install.
        intel: crate::intel::dir()
            .and_then(|d| {
                crate::intel::Check::open(&d, crate::intel::ecosystem_of(plan.tool.family()))
            })
            .map(std::sync::Arc::new),
        intel_refuses: policy.mode != Mode::Audit,
        inspect: inspected(plan),
        manager_ca: plan.trust.ca_file.clone(),
        cooldown: cooldown_filter(plan, policy),
    }
}

/// The cooldown's filter, when the plan has the proxy enforce it (the
/// manager has no date gate of its own): the cut-off, the exempt names, the
/// documents its registries serve, and those registries.
fn cooldown_filter(
    plan: &InstallPlan,
    policy: &Policy,
) -> Option<std::sync::Arc<super::proxy::CooldownFilter>> {
    let c = plan
        .cooldown
        .as_ref()
        .filter(|c| c.enforced && !c.proxy_filters.is_empty())?;
    // The plan wrote the cut-off itself; a cut-off it cannot read back is
    // the epoch: everything held back rather than nothing (fail closed).
    let at = crate::docfilter::parse_time(&c.cutoff).unwrap_or(std::time::UNIX_EPOCH);
    let mut hosts: Vec<String> = plan
        .registries
        .iter()
        .filter_map(|u| host_port_default(u))
        .collect();
    hosts.sort();
    hosts.dedup();
    Some(std::sync::Arc::new(super::proxy::CooldownFilter {
        cut: crate::docfilter::Cut {
            at,
            exempt: c.exempt.clone(),
        },
        age: c.age.clone(),
        cutoff: c.cutoff.clone(),
        docs: c.proxy_filters.clone(),
        hosts,
        refuses: policy.mode == Mode::Block && !policy.cooldown_allow_unenforced,
        dated: Default::default(),
    }))
}

/// `host:port` of the manager's own registries reached over TLS (its
/// registries with an `https` URL, and the hosts they hand downloads to):
/// what the proxy terminates when a feed is present. Never a host the
/// policy adds.
fn inspected(plan: &InstallPlan) -> Vec<String> {
    // A manager that cannot be told to trust the install's CA keeps its
    // tunnels (the report says the feed was not checked there).
    if plan.trust.bundle_vars.is_empty() {
        return Vec::new();
    }
    let mut hosts: Vec<String> = plan
        .registries
        .iter()
        .filter(|u| u.to_ascii_lowercase().starts_with("https://"))
        .filter_map(|u| host_port_default(u))
        .collect();
    hosts.extend(plan.facts.download_hosts.iter().map(|h| with_port(h, 443)));
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Why the feed cannot check this install's registries over TLS, known
/// from the plan before it starts: a feed is present, a registry is
/// reached over TLS, and the manager has no setting pkgwarden knows to make
/// it trust the install's CA. `None` when there is nothing unchecked.
pub fn uninspectable(proxy: &ProxyPolicy, plan: &InstallPlan) -> Option<String> {
    proxy.intel.as_ref()?;
    let over_tls = plan
        .registries
        .iter()
        .any(|u| u.to_ascii_lowercase().starts_with("https://"))
        || !plan.facts.download_hosts.is_empty();
    (over_tls && plan.trust.bundle_vars.is_empty()).then(|| {
        format!(
            "{} has no setting pkgwarden knows to make it trust the install's CA",
            plan.tool.name()
        )
    })
}

/// `host:port` of a registry URL, with the scheme's port when none is given.
fn host_port_default(url: &str) -> Option<String> {
    let hp = crate::managers::facts::host_port(url)?;
    let default = if url.starts_with("https") { 443 } else { 80 };
    Some(with_port(&hp, default))
}

/// `host` with `port` appended unless it has one.
fn with_port(host: &str, port: u16) -> String {
    let h = host.to_ascii_lowercase();
    let has_port = if let Some(rest) = h.strip_prefix('[') {
        rest.contains("]:")
    } else {
        h.rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    };
    if has_port { h } else { format!("{h}:{port}") }
}

/// How this install uses the feed (`None`: no feed), as far as known
/// before it starts: when the feed was imported, and whether registries
/// over TLS are inspected (`inspection` is the proxy's answer).
pub fn intel_use(
    proxy: &ProxyPolicy,
    plan: &InstallPlan,
    inspection: Option<Result<&str, &str>>,
) -> Option<crate::model::report::IntelUse> {
    proxy.intel.as_ref()?;
    let meta = crate::intel::dir().and_then(|d| crate::intel::status(&d));
    let imported_at = meta.as_ref().map(|m| m.imported_at.clone());
    let age_days = imported_at
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs() / 86_400);
    let tls_not_inspected = match inspection {
        Some(Ok(_)) => None,
        Some(Err(why)) => Some(format!(
            "the install's CA could not be made ({why}): their connections were refused but in audit"
        )),
        None => uninspectable(proxy, plan)
            .map(|why| format!("{why}: its registries over TLS were not checked")),
    };
    Some(crate::model::report::IntelUse {
        consulted: true,
        imported_at,
        age_days,
        newest_record: meta.and_then(|m| m.newest),
        tls_inspected: if matches!(inspection, Some(Ok(_))) {
            proxy.inspect.clone()
        } else {
            Vec::new()
        },
        tls_not_inspected,
    })
}

/// The payload and the build directories: what the install runs from.
pub fn exec_roots(plan: &InstallPlan) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = plan
        .write_roots
        .iter()
        .chain(&plan.write_files)
        .chain(&plan.build_dirs)
        .cloned()
        .collect();
    roots.extend(crate::detect::data::python_envs(&plan.write_roots));
    roots
}

/// The proxy as the supervisor sees it.
pub struct ProxyEnd {
    /// Its listening address: the one endpoint the install may connect to.
    pub addr: std::net::SocketAddr,
    /// Where it notes which pid owns each of its connections.
    pub peers: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<u16, i32>>>,
}

impl ProxyEnd {
    /// The running proxy's end.
    pub fn of(proxy: &super::proxy::Proxy) -> ProxyEnd {
        ProxyEnd {
            addr: proxy.addr,
            peers: proxy.peers.clone(),
        }
    }
}

/// What the seccomp supervisor watches for and refuses.
/// Where the install may connect to a unix socket (resolved): in protect its
/// private TMPDIR (and the root scripts' private caches beside it) and the
/// system services of `policy/endpoints.toml`; in both protect and block the
/// policy's `endpoints.unix` (`unix`, `~/` expanded). Never a directory of
/// the plan: a project's own configuration names those (`logs-dir`,
/// `cache`, a `file:` dependency), and may name any. Directories are
/// canonicalised, so a socket is compared with what they resolve to.
pub fn unix_allowed(mode: Mode, at: &Place, unix: &[String]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = unix
        .iter()
        .map(|u| crate::paths::expand_tilde(u))
        .filter(|p| p.is_absolute())
        .collect();
    if mode == Mode::Protect {
        out.push(at.tmp.clone());
        out.push(at.root_caches.clone());
        out.extend(
            crate::detect::data::endpoints()
                .unix_services
                .iter()
                .map(PathBuf::from),
        );
    }
    out.into_iter()
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn watch(
    plan: &InstallPlan,
    policy: &Policy,
    fs: &FsSpec,
    grants: &[Grant],
    at: &Place,
    rules: Rules,
    proxy: ProxyEnd,
    start: Instant,
) -> Watch {
    let mode = policy.mode;
    let audit = mode == Mode::Audit;
    let net = NetPolicy {
        observe_only: audit,
        allowed: vec![proxy.addr],
        privileged_unix: privileged_sockets(at.home.as_deref()),
        deny_all_unix: mode == Mode::Block,
        unix_confined: mode == Mode::Protect,
        unix_allowed: unix_allowed(mode, at, &policy.endpoints.unix),
        unix_own: [&at.tmp, &at.root_caches]
            .into_iter()
            .map(|p| {
                let made = std::fs::metadata(p).and_then(|m| m.created()).ok();
                (std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()), made)
            })
            .collect(),
        peers: Some(proxy.peers),
    };
    // Reads recorded as evidence: the hidden stores, and the credentials the
    // managers need readable (a hook reading them is the finding).
    let mut secrets = fs.secrets.clone();
    if let Some(h) = &at.home {
        secrets.extend(
            crate::sandbox::readable_credentials()
                .iter()
                .map(|f| h.join(f)),
        );
    }
    secrets.extend(
        [".env", ".env.local", ".env.production", ".env.development"]
            .iter()
            .map(|f| at.cwd.join(f)),
    );
    // A process confined by the preload library says so by opening this.
    if !audit && !plan.package_code.is_empty() {
        secrets.push(crate::sandbox::nest::ack_path(&at.tmp));
    }
    Watch {
        rules,
        observe_only: audit,
        secrets,
        net,
        start,
        // Block runs nothing the install wrote outside them.
        exec_roots: (mode == Mode::Block).then(|| {
            let mut r = exec_roots(plan);
            r.extend([at.tmp.clone(), at.root_caches.clone()]);
            r
        }),
        // chmod and chown take effect only where landlock lets it write.
        perm: (!audit).then(|| WriteGrants {
            except: fs.supervised(),
            ..WriteGrants::from_grants(grants)
        }),
        attribution: plan.attribution.clone(),
        // Audit changes nothing, this neither.
        kept: match audit {
            true => super::keep::Guard::default(),
            // Policy files everywhere: landlock keeps only those that
            // exist on this install's way up; the name is the supervisor's.
            false => {
                super::keep::Guard::of(&fs.supervised()).with_names(&[crate::paths::PROJECT_POLICY])
            }
        },
        through_supervisor: match audit {
            true => Vec::new(),
            false => fs.through_supervisor.clone(),
        },
    }
}

/// Unix sockets no install may use.
pub fn privileged_sockets(home: Option<&Path>) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/containerd/containerd.sock",
        "/run/systemd/resolve/io.systemd.Resolve",
        "/var/run/nscd/socket",
        "/run/dbus/system_bus_socket",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(s) = std::env::var_os("SSH_AUTH_SOCK") {
        v.push(PathBuf::from(s));
    }
    // The docker socket the user's docker client would use.
    if let Some(path) = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
    {
        v.push(path);
    }
    // Container and VM managers: each runs what its client asks, as root or
    // as the user, outside the sandbox (round 12: Docker Desktop's).
    v.extend(
        [
            "/run/podman/podman.sock",
            "/run/buildkit/buildkitd.sock",
            "/run/k3s/containerd/containerd.sock",
            "/var/snap/lxd/common/lxd/unix.socket",
            "/var/lib/lxd/unix.socket",
            "/var/lib/incus/unix.socket",
        ]
        .iter()
        .map(PathBuf::from),
    );
    if let Some(h) = home {
        v.push(h.join(".docker/run/docker.sock"));
        v.push(h.join(".docker/desktop/docker.sock"));
        v.push(h.join(".rd/docker.sock"));
        v.push(h.join(".gnupg/S.gpg-agent"));
        // Every socket the docker client's contexts name (Colima, Rancher
        // Desktop, podman machine, …).
        v.extend(docker_context_sockets(&h.join(".docker/contexts/meta")));
        for d in [".colima", ".lima"] {
            for inst in std::fs::read_dir(h.join(d)).into_iter().flatten().flatten() {
                v.extend(sockets_in(&inst.path()));
                v.extend(sockets_in(&inst.path().join("sock")));
            }
        }
    }
    let uid = nix::unistd::getuid().as_raw();
    v.push(PathBuf::from(format!("/run/user/{uid}/bus")));
    v.push(PathBuf::from(format!("/run/user/{uid}/docker.sock")));
    v.push(PathBuf::from(format!("/run/user/{uid}/gnupg/S.gpg-agent")));
    v.push(PathBuf::from(format!(
        "/run/user/{uid}/gnupg/S.gpg-agent.ssh"
    )));
    // Servers that run what a client of the same user asks, outside the
    // sandbox (round 11): tmux (`send-keys`; its default socket, and the
    // one `$TMUX` names when pkgwarden runs inside tmux), systemd's user
    // manager (transient units), rootless podman.
    let tmux = std::env::var_os("TMUX_TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    v.push(tmux.join(format!("tmux-{uid}/default")));
    if let Some(t) = std::env::var("TMUX")
        .ok()
        .and_then(|t| t.split(',').next().map(PathBuf::from))
    {
        v.push(t);
    }
    v.push(PathBuf::from(format!("/run/user/{uid}/systemd/private")));
    v.push(PathBuf::from(format!("/run/user/{uid}/podman/podman.sock")));
    // Every socket already in the directories of such servers, whatever
    // its name: tmux servers on other `-L` names, GNU screen's sessions
    // (`$SCREENDIR`), and X11 displays (any window can be typed into).
    let user = std::env::var("USER")
        .ok()
        .or_else(|| crate::sys::user_name(uid));
    let mut dirs = vec![
        tmux.join(format!("tmux-{uid}")),
        PathBuf::from("/tmp/.X11-unix"),
    ];
    dirs.extend(std::env::var_os("SCREENDIR").map(PathBuf::from));
    if let Some(u) = &user {
        dirs.push(PathBuf::from(format!("/run/screen/S-{u}")));
        dirs.push(PathBuf::from(format!("/var/run/screen/S-{u}")));
    }
    dirs.extend(home.map(|h| h.join(".screen")));
    for d in dirs {
        v.extend(sockets_in(&d));
    }
    v
}

/// The unix sockets the docker client's contexts name (`Endpoints.docker.Host`
/// of `<meta>/*/meta.json`, `unix://` ones).
fn docker_context_sockets(meta: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(meta)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("meta.json")).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|doc| {
            doc["Endpoints"]["docker"]["Host"]
                .as_str()
                .and_then(|h| h.strip_prefix("unix://"))
                .map(PathBuf::from)
        })
        .collect()
}

/// The unix sockets directly in `dir` (none when it cannot be read).
fn sockets_in(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .map(|e| e.path())
        .collect()
}

/// Where the install is expected to write: its roots, caches, logs and
/// files, and every directory landlock lets it write.
pub fn expected(plan: &InstallPlan, fs: &FsSpec) -> Vec<PathBuf> {
    plan.write_roots
        .iter()
        .chain(&plan.cache_dirs)
        .chain(&plan.log_dirs)
        .chain(&plan.write_files)
        .chain(&fs.write_dirs)
        .chain(&fs.file_dirs)
        .cloned()
        .collect()
}

/// The configuration and credential files the manager itself reads (its
/// reading them is no finding).
pub fn manager_configs(plan: &InstallPlan) -> Vec<PathBuf> {
    plan.config_files
        .iter()
        .chain(&plan.readable_credentials)
        .cloned()
        .collect()
}

/// The root project's package name, from its manifest (the plan's).
pub fn project_package(manifest: Option<&ProjectManifest>) -> Option<String> {
    let m = manifest?;
    let text = std::fs::read_to_string(&m.file).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get(&m.name_key)?.as_str().map(str::to_string)
}
