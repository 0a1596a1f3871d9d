//! A loopback static npm registry serving tarballs built on the fly from
//! `tests/fixtures/npm/<dir>/` (each holds a `package.json` with at least
//! `name` and `version`; every file in the directory goes into the tarball
//! under `package/`).
//!
//! Routes:
//! - `GET /<name>` and `GET /@scope%2fname` (or `/@scope/name`): packument
//! - `GET /<name>/<version>` or `/<name>/<dist-tag>`: one version document
//! - `GET /<name>/-/<basename>-<version>.tgz`: tarball
//! - anything else: 404 `{"error":"not found"}`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::http::{HttpServer, Incoming, LoggedRequest, Reply};
use super::{collect_files, fixtures_root, sha1_hex, sha512_b64, tar_gz};

/// An npm fixture: its parsed `package.json` and the directory it came from.
#[derive(Clone, Debug)]
pub struct NpmFixture {
    pub name: String,
    pub version: String,
    pub manifest: Value,
    pub dir: PathBuf,
}

impl NpmFixture {
    /// Loads `tests/fixtures/npm/<dir_name>/package.json`.
    pub fn load(dir_name: &str) -> NpmFixture {
        let dir = fixtures_root().join("npm").join(dir_name);
        let path = dir.join("package.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let manifest: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        let field = |k: &str| {
            manifest
                .get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_else(|| panic!("{}: missing string field {k:?}", path.display()))
                .to_string()
        };
        NpmFixture {
            name: field("name"),
            version: field("version"),
            manifest: manifest.clone(),
            dir,
        }
    }

    /// Builds the `.tgz` (all files under `package/`).
    pub fn package(&self) -> NpmPackage {
        let entries: Vec<(String, Vec<u8>)> = collect_files(&self.dir, &|rel: &str| {
            !rel.split('/').any(|c| c == "node_modules")
        })
        .into_iter()
        .map(|(rel, data)| (format!("package/{rel}"), data))
        .collect();
        NpmPackage {
            manifest: self.manifest.clone(),
            tarball: tar_gz(&entries),
        }
    }
}

/// One published version: the version manifest (package.json fields) and
/// its tarball bytes.
#[derive(Clone, Debug)]
pub struct NpmPackage {
    pub manifest: Value,
    pub tarball: Vec<u8>,
}

impl NpmPackage {
    /// A package built in memory: `package/package.json` is `manifest`
    /// (which needs `name` and `version`), plus `files` (paths relative to
    /// the package root).
    pub fn new(manifest: Value, files: &[(&str, &[u8])]) -> NpmPackage {
        let mut entries = vec![(
            "package/package.json".to_string(),
            serde_json::to_vec_pretty(&manifest).expect("manifest serializes"),
        )];
        for (path, data) in files {
            entries.push((format!("package/{path}"), data.to_vec()));
        }
        let pkg = NpmPackage {
            manifest,
            tarball: tar_gz(&entries),
        };
        // Fail early on a manifest without name/version.
        let _ = (pkg.name(), pkg.version());
        pkg
    }

    pub fn name(&self) -> &str {
        self.manifest
            .get("name")
            .and_then(|v| v.as_str())
            .expect("npm package manifest has a name")
    }

    pub fn version(&self) -> &str {
        self.manifest
            .get("version")
            .and_then(|v| v.as_str())
            .expect("npm package manifest has a version")
    }

    /// `sha1` hex of the tarball (the packument's `dist.shasum`).
    pub fn shasum(&self) -> String {
        sha1_hex(&self.tarball)
    }

    /// `sha512-<base64>` (the packument's `dist.integrity`).
    pub fn integrity(&self) -> String {
        format!("sha512-{}", sha512_b64(&self.tarball))
    }
}

/// Path (on the registry) of a package's tarball, e.g.
/// `/pwdemo/-/pwdemo-1.0.0.tgz` or `/@s/p/-/p-1.0.0.tgz`.
pub fn tarball_path(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("/{name}/-/{base}-{version}.tgz")
}

/// Naive semver ordering key: numeric major.minor.patch, releases after
/// prereleases of the same triple.
fn version_key(v: &str) -> (Vec<u64>, bool, String) {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v.split('+').next().unwrap_or(v), None),
    };
    let nums = core
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0))
        .collect();
    (nums, pre.is_none(), pre.unwrap_or("").to_string())
}

#[derive(Default)]
struct RegistryState {
    /// name -> version -> package
    packages: BTreeMap<String, BTreeMap<String, NpmPackage>>,
    /// name -> tag -> version (overrides the computed `latest`)
    dist_tags: BTreeMap<String, BTreeMap<String, String>>,
    /// tarball path -> (name, version)
    tarballs: BTreeMap<String, (String, String)>,
    /// name -> version -> publication time (RFC 3339): the packument's `time`.
    times: BTreeMap<String, BTreeMap<String, String>>,
}

impl RegistryState {
    fn add(&mut self, pkg: NpmPackage) {
        let name = pkg.name().to_string();
        let version = pkg.version().to_string();
        self.tarballs.insert(
            tarball_path(&name, &version),
            (name.clone(), version.clone()),
        );
        self.packages.entry(name).or_default().insert(version, pkg);
    }

    fn tags(&self, name: &str) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        if let Some(versions) = self.packages.get(name)
            && let Some(latest) = versions
                .keys()
                .filter(|v| !v.contains('-'))
                .max_by_key(|v| version_key(v))
                .or_else(|| versions.keys().max_by_key(|v| version_key(v)))
        {
            tags.insert("latest".to_string(), latest.clone());
        }
        if let Some(explicit) = self.dist_tags.get(name) {
            tags.extend(explicit.clone());
        }
        tags
    }

    fn version_doc(&self, base_url: &str, pkg: &NpmPackage) -> Value {
        let mut doc = match &pkg.manifest {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        doc.insert(
            "_id".to_string(),
            json!(format!("{}@{}", pkg.name(), pkg.version())),
        );
        doc.insert(
            "dist".to_string(),
            json!({
                "tarball": format!("{base_url}{}", tarball_path(pkg.name(), pkg.version())),
                "shasum": pkg.shasum(),
                "integrity": pkg.integrity(),
            }),
        );
        Value::Object(doc)
    }

    fn packument(&self, base_url: &str, name: &str) -> Option<Value> {
        let versions = self.packages.get(name)?;
        let mut vmap = serde_json::Map::new();
        for (v, pkg) in versions {
            vmap.insert(v.clone(), self.version_doc(base_url, pkg));
        }
        let mut doc = json!({
            "_id": name,
            "name": name,
            "dist-tags": self.tags(name),
            "versions": vmap,
        });
        if let Some(times) = self.times.get(name) {
            let mut t: serde_json::Map<String, Value> =
                times.iter().map(|(v, at)| (v.clone(), json!(at))).collect();
            if let (Some(first), Some(last)) = (times.values().min(), times.values().max()) {
                t.insert("created".into(), json!(first));
                t.insert("modified".into(), json!(last));
            }
            doc["time"] = Value::Object(t);
        }
        Some(doc)
    }
}

/// A static npm registry on `127.0.0.1:<ephemeral>`, stopped on Drop.
pub struct NpmRegistry {
    server: HttpServer,
    state: Arc<Mutex<RegistryState>>,
}

impl NpmRegistry {
    /// Builds a tarball for each fixture directory name and serves them.
    pub fn start(fixtures: &[&str]) -> NpmRegistry {
        NpmRegistry::start_with(
            fixtures
                .iter()
                .map(|f| NpmFixture::load(f).package())
                .collect(),
        )
    }

    /// Serves arbitrary packages.
    pub fn start_with(packages: Vec<NpmPackage>) -> NpmRegistry {
        NpmRegistry::start_at(packages, None)
    }

    /// Serves arbitrary packages, naming tarballs under `base` (a TLS
    /// front's URL) instead of its own plain-HTTP address.
    pub fn start_at(packages: Vec<NpmPackage>, base: Option<String>) -> NpmRegistry {
        let mut st = RegistryState::default();
        for p in packages {
            st.add(p);
        }
        let state = Arc::new(Mutex::new(st));
        let handler_state = Arc::clone(&state);
        let server = HttpServer::start(move |port| {
            let base_url = base.unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
            move |rq: &Incoming<'_>| {
                let st = handler_state.lock().unwrap_or_else(|p| p.into_inner());
                route(&st, &base_url, rq)
            }
        });
        NpmRegistry { server, state }
    }

    /// Adds (or replaces) a package version while the server runs.
    pub fn add(&self, pkg: NpmPackage) {
        self.lock().add(pkg);
    }

    /// Builds and adds the package of a fixture directory.
    pub fn add_fixture(&self, fixture: &str) {
        self.add(NpmFixture::load(fixture).package());
    }

    /// Sets when `name@version` was published (RFC 3339), served in the
    /// packument's `time` field as a registry does.
    pub fn set_time(&self, name: &str, version: &str, at: &str) {
        self.lock()
            .times
            .entry(name.to_string())
            .or_default()
            .insert(version.to_string(), at.to_string());
    }

    /// Sets a dist-tag (overriding the computed `latest` if `tag == "latest"`).
    pub fn set_dist_tag(&self, name: &str, tag: &str, version: &str) {
        self.lock()
            .dist_tags
            .entry(name.to_string())
            .or_default()
            .insert(tag.to_string(), version.to_string());
    }

    /// `http://127.0.0.1:PORT/`, for `npm --registry`.
    pub fn registry_url(&self) -> String {
        format!("{}/", self.server.base_url())
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Absolute URL of a package's tarball.
    pub fn tarball_url(&self, name: &str, version: &str) -> String {
        format!("{}{}", self.server.base_url(), tarball_path(name, version))
    }

    /// Number of requests served so far (any path, any status).
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.server.requests()
    }

    /// Whether exactly this decoded path (e.g. `/pwdemo`, `/@s/p`) was requested.
    pub fn was_requested(&self, path: &str) -> bool {
        self.server.was_requested(path)
    }

    /// Whether the tarball of `name@version` was served successfully.
    pub fn tarball_fetched(&self, name: &str, version: &str) -> bool {
        let path = tarball_path(name, version);
        self.server
            .requests()
            .iter()
            .any(|r| r.path == path && r.status == 200)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_found() -> Reply {
    Reply::json(404, &json!({"error": "not found"}))
}

fn route(st: &RegistryState, base_url: &str, rq: &Incoming<'_>) -> Reply {
    if rq.method != "GET" && rq.method != "HEAD" {
        return Reply::json(405, &json!({"error": "method not allowed"}));
    }
    // `rq.path` is already percent-decoded, so `/@scope%2fname` arrives as
    // `/@scope/name`.
    let path = rq.path;
    if let Some((name, version)) = st.tarballs.get(path) {
        if let Some(pkg) = st.packages.get(name).and_then(|vs| vs.get(version)) {
            return Reply::ok("application/octet-stream", pkg.tarball.clone());
        }
        return not_found();
    }
    let name = path.trim_start_matches('/').trim_end_matches('/');
    if let Some(doc) = st.packument(base_url, name) {
        return Reply::json(200, &doc);
    }
    // `/<name>/<version-or-tag>`
    if let Some((name, spec)) = name.rsplit_once('/')
        && let Some(versions) = st.packages.get(name)
    {
        let version = st.tags(name).get(spec).cloned().unwrap_or(spec.to_string());
        if let Some(pkg) = versions.get(&version) {
            return Reply::json(200, &st.version_doc(base_url, pkg));
        }
    }
    not_found()
}

/// JavaScript for probe scripts: `files(d)`, every regular file beneath `d`
/// (links not followed; needs `fs` and `path`).
pub const JS_FILES: &str = r#"
function files(d) {
  const out = [];
  (function walk(d) {
    let es = [];
    try { es = fs.readdirSync(d, {withFileTypes: true}); } catch (e) { return; }
    for (const e of es) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else if (e.isFile()) out.push(p);
    }
  })(d);
  return out;
}
"#;
