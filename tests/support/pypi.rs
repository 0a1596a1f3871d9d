//! A loopback PEP 503 "simple" package index serving wheels (and sdists)
//! built on the fly from `tests/fixtures/pip/<name>/`.
//!
//! Fixture layout: `tests/fixtures/pip/<dir>/fixture.json` holds
//! `{"name": ..., "version": ..., "summary"?: ..., "requires_dist"?: [...]}`;
//! every other file in the directory is packaged at the same relative path
//! (so `pwdemo/__init__.py` becomes the importable `pwdemo` package).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::http::{HttpServer, Incoming, LoggedRequest, Reply};
use super::{collect_files, fixtures_root, sha256_hex, sha256_urlsafe_nopad};

/// A pip fixture as read from `fixture.json`.
#[derive(Clone, Debug)]
pub struct PipFixture {
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    pub requires_dist: Vec<String>,
    pub dir: PathBuf,
}

impl PipFixture {
    /// Loads `tests/fixtures/pip/<dir_name>/fixture.json`.
    pub fn load(dir_name: &str) -> PipFixture {
        let dir = fixtures_root().join("pip").join(dir_name);
        let path = dir.join("fixture.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_else(|| panic!("{}: missing string field {k:?}", path.display()))
                .to_string()
        };
        PipFixture {
            name: field("name"),
            version: field("version"),
            summary: v.get("summary").and_then(|x| x.as_str()).map(String::from),
            requires_dist: v
                .get("requires_dist")
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            dir,
        }
    }

    /// The package's own files: (relative path with `/`, contents).
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        collect_files(&self.dir, &|rel: &str| {
            rel != "fixture.json"
                && !rel.split('/').any(|c| c == "__pycache__")
                && !rel.ends_with(".pyc")
        })
    }

    /// Core metadata (`METADATA` / `PKG-INFO`) text.
    pub fn metadata(&self) -> String {
        let mut m = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if let Some(s) = &self.summary {
            m.push_str(&format!("Summary: {s}\n"));
        }
        for r in &self.requires_dist {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m
    }
}

/// One distribution file on the index.
#[derive(Clone, Debug)]
pub struct Dist {
    /// Project name as displayed (normalized when routing).
    pub project: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Dist {
    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// PEP 503 name normalization: lowercase, runs of `-_.` become `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Name as used in wheel / sdist file names and the `.dist-info` directory.
pub fn filename_name(name: &str) -> String {
    normalize_name(name).replace('-', "_")
}

/// Builds a `py3-none-any` wheel for the fixture.
pub fn build_wheel(fx: &PipFixture) -> Dist {
    let stem = format!("{}-{}", filename_name(&fx.name), fx.version);
    let dist_info = format!("{stem}.dist-info");
    let mut entries = fx.files();
    entries.push((format!("{dist_info}/METADATA"), fx.metadata().into_bytes()));
    entries.push((
        format!("{dist_info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: pkgwarden-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_vec(),
    ));

    let mut record = String::new();
    for (path, data) in &entries {
        record.push_str(&format!(
            "{path},sha256={},{}\n",
            sha256_urlsafe_nopad(data),
            data.len()
        ));
    }
    let record_path = format!("{dist_info}/RECORD");
    record.push_str(&format!("{record_path},,\n"));
    entries.push((record_path, record.into_bytes()));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, data) in &entries {
        zip.start_file(path.as_str(), opts)
            .unwrap_or_else(|e| panic!("wheel entry {path}: {e}"));
        zip.write_all(data)
            .unwrap_or_else(|e| panic!("wheel entry {path}: {e}"));
    }
    let bytes = zip
        .finish()
        .unwrap_or_else(|e| panic!("finishing wheel {stem}: {e}"))
        .into_inner();
    Dist {
        project: fx.name.clone(),
        filename: format!("{stem}-py3-none-any.whl"),
        bytes,
    }
}

/// Builds a `.tar.gz` sdist: `<name>-<ver>/PKG-INFO` plus the fixture files
/// (add a `pyproject.toml` / `setup.py` to the fixture for it to be
/// buildable; building needs a backend that pip can get offline).
pub fn build_sdist(fx: &PipFixture) -> Dist {
    let stem = format!("{}-{}", filename_name(&fx.name), fx.version);
    let mut entries = vec![(format!("{stem}/PKG-INFO"), fx.metadata().into_bytes())];
    for (rel, data) in fx.files() {
        entries.push((format!("{stem}/{rel}"), data));
    }
    Dist {
        project: fx.name.clone(),
        filename: format!("{stem}.tar.gz"),
        bytes: super::tar_gz(&entries),
    }
}

#[derive(Default)]
struct IndexState {
    /// normalized project name -> files
    projects: BTreeMap<String, Vec<Dist>>,
    /// file name -> upload time (RFC 3339): PEP 700's `upload-time`, served
    /// to clients that ask for PEP 691 JSON.
    upload_times: BTreeMap<String, String>,
    /// When set, project pages are HTML under this content type whatever
    /// the client asks (an index that names its HTML its own way).
    html_type: Option<&'static str>,
}

impl IndexState {
    fn add(&mut self, dist: Dist) {
        let files = self
            .projects
            .entry(normalize_name(&dist.project))
            .or_default();
        files.retain(|d| d.filename != dist.filename);
        files.push(dist);
    }
}

/// A PEP 503 simple index on `127.0.0.1:<ephemeral>`, stopped on Drop.
///
/// Routes: `/simple/` (project list), `/simple/<normalized>/` (file links
/// with `#sha256=` fragments), `/files/<normalized>/<filename>` (downloads).
pub struct PypiIndex {
    server: HttpServer,
    state: Arc<Mutex<IndexState>>,
}

impl PypiIndex {
    /// Builds a wheel for each fixture directory name and serves them.
    pub fn start(fixtures: &[&str]) -> PypiIndex {
        let dists = fixtures
            .iter()
            .map(|f| build_wheel(&PipFixture::load(f)))
            .collect();
        PypiIndex::start_with(dists)
    }

    /// Serves arbitrary distribution files.
    pub fn start_with(dists: Vec<Dist>) -> PypiIndex {
        let mut st = IndexState::default();
        for d in dists {
            st.add(d);
        }
        let state = Arc::new(Mutex::new(st));
        let handler_state = Arc::clone(&state);
        let server = HttpServer::start(move |_port| {
            move |rq: &Incoming<'_>| {
                let st = handler_state.lock().unwrap_or_else(|p| p.into_inner());
                route(&st, rq)
            }
        });
        PypiIndex { server, state }
    }

    /// Adds (or replaces, by file name) a file while the server runs.
    pub fn add(&self, dist: Dist) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(dist);
    }

    /// Sets when a file was uploaded (RFC 3339): its `upload-time` in the
    /// PEP 691 JSON page (the HTML page has none, as on a real index).
    pub fn set_upload_time(&self, filename: &str, at: &str) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .upload_times
            .insert(filename.to_string(), at.to_string());
    }

    /// Serves project pages as HTML labelled `ctype`, whatever is asked.
    pub fn serve_html_as(&self, ctype: &'static str) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .html_type = Some(ctype);
    }

    /// Builds and adds the sdist of a fixture directory.
    pub fn add_sdist(&self, fixture: &str) {
        self.add(build_sdist(&PipFixture::load(fixture)));
    }

    /// Builds and adds the wheel of a fixture directory.
    pub fn add_wheel(&self, fixture: &str) {
        self.add(build_wheel(&PipFixture::load(fixture)));
    }

    /// `http://127.0.0.1:PORT/simple/`, for `pip --index-url`.
    pub fn index_url(&self) -> String {
        format!("{}/simple/", self.server.base_url())
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// URL a given file is downloaded from.
    pub fn file_url(&self, project: &str, filename: &str) -> String {
        format!(
            "{}/files/{}/{filename}",
            self.server.base_url(),
            normalize_name(project)
        )
    }

    /// Number of requests served so far (any path, any status).
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.server.requests()
    }

    /// Whether exactly this path (e.g. `/simple/pwdemo/`) was requested.
    pub fn was_requested(&self, path: &str) -> bool {
        self.server.was_requested(path)
    }

    /// Whether any file of the project was downloaded.
    pub fn was_downloaded(&self, project: &str) -> bool {
        let prefix = format!("/files/{}/", normalize_name(project));
        self.server
            .requests()
            .iter()
            .any(|r| r.path.starts_with(&prefix) && r.status == 200)
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, links: &str) -> Reply {
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n\
         <title>{t}</title>\n</head>\n<body>\n<h1>{t}</h1>\n{links}</body>\n</html>\n",
        t = html_escape(title)
    );
    Reply::ok("text/html; charset=utf-8", body)
}

fn route(st: &IndexState, rq: &Incoming<'_>) -> Reply {
    if rq.method != "GET" && rq.method != "HEAD" {
        return Reply::new(405, "text/plain; charset=utf-8", "method not allowed\n");
    }
    let path = rq.path;
    if path == "/simple" || path == "/simple/" {
        let mut links = String::new();
        for (norm, files) in &st.projects {
            let display = files.first().map(|d| d.project.as_str()).unwrap_or(norm);
            links.push_str(&format!(
                "<a href=\"/simple/{norm}/\">{}</a><br/>\n",
                html_escape(display)
            ));
        }
        return page("Simple index", &links);
    }
    if let Some(rest) = path.strip_prefix("/simple/") {
        // A static index's file for the same page.
        let rest = rest.strip_suffix("index.html").unwrap_or(rest);
        let requested = rest.trim_end_matches('/');
        if requested.contains('/') {
            return Reply::not_found_text();
        }
        let norm = normalize_name(requested);
        let Some(files) = st.projects.get(&norm) else {
            return Reply::not_found_text();
        };
        // JSON only from an index that has upload times: the other tests
        // keep the HTML pages they were written against.
        if !st.upload_times.is_empty()
            && st.html_type.is_none()
            && rq.accept.contains("application/vnd.pypi.simple.v1+json")
        {
            return json_page(st, &norm, files);
        }
        let mut links = String::new();
        for d in files {
            links.push_str(&format!(
                "<a href=\"/files/{norm}/{f}#sha256={h}\">{f}</a><br/>\n",
                f = html_escape(&d.filename),
                h = d.sha256()
            ));
        }
        let mut reply = page(&format!("Links for {norm}"), &links);
        if let Some(t) = st.html_type {
            reply.content_type = t;
        }
        return reply;
    }
    if let Some(rest) = path.strip_prefix("/files/")
        && let Some((norm, filename)) = rest.split_once('/')
        && let Some(d) = st
            .projects
            .get(norm)
            .and_then(|fs| fs.iter().find(|d| d.filename == filename))
    {
        return Reply::ok("application/octet-stream", d.bytes.clone());
    }
    Reply::not_found_text()
}

/// A project's PEP 691 JSON page, with PEP 700 upload times where set.
fn json_page(st: &IndexState, norm: &str, files: &[Dist]) -> Reply {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|d| {
            let mut f = serde_json::json!({
                "filename": d.filename,
                "url": format!("/files/{norm}/{}", d.filename),
                "hashes": {"sha256": d.sha256()},
            });
            if let Some(t) = st.upload_times.get(&d.filename) {
                f["upload-time"] = serde_json::json!(t);
            }
            f
        })
        .collect();
    let body = serde_json::json!({"meta": {"api-version": "1.1"}, "name": norm, "files": files});
    Reply::new(200, "application/vnd.pypi.simple.v1+json", body.to_string())
}

/// setuptools and wheel for pip's isolated build environment
/// (tests/.wheels, downloaded by .ci/run).
pub fn build_requirements() -> Vec<Dist> {
    let dir = super::crate_root().join("tests/.wheels");
    let wheels: Vec<Dist> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let filename = e.file_name().to_string_lossy().into_owned();
            let project = filename
                .strip_suffix(".whl")?
                .split('-')
                .next()?
                .to_string();
            Some(Dist {
                project,
                filename,
                bytes: std::fs::read(e.path()).ok()?,
            })
        })
        .collect();
    assert!(
        wheels.iter().any(|w| w.project == "setuptools"),
        "no setuptools wheel in {}: run .ci/run, or `python3 -m pip download --only-binary :all: --dest tests/.wheels setuptools wheel`",
        dir.display()
    );
    wheels
}

/// A poetry project with no dependencies whose only source is `index`,
/// with `settings` in its `poetry.toml` (`poetry config --local`).
pub fn poetry_project(
    env: &super::ShimEnv,
    name: &str,
    index: &PypiIndex,
    settings: &[(&str, &str)],
) -> std::path::PathBuf {
    let project = env.home.subdir(name);
    std::fs::write(
        project.join("pyproject.toml"),
        format!(
            "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = []\n\n[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = \"local\"\nurl = \"{}\"\npriority = \"primary\"\n",
            index.index_url()
        ),
    )
    .unwrap();
    for (k, v) in settings {
        let out = super::run(
            env.shim("poetry")
                .args(["config", "--local", k, v])
                .current_dir(&project),
        );
        super::assert_success(&out, "poetry config --local");
    }
    project
}

/// A loopback index serving pip's build requirements and `name`, an sdist
/// whose `setup.py` is `setup_py` (an empty package `name` beside it).
pub fn sdist_index(name: &str, setup_py: &str) -> PypiIndex {
    let src = tempfile::tempdir().expect("sdist source");
    let dir = src.path().join(name);
    std::fs::create_dir_all(dir.join(name)).expect("package dir");
    std::fs::write(dir.join("setup.py"), setup_py).expect("setup.py");
    std::fs::write(dir.join(name).join("__init__.py"), "").expect("__init__.py");
    let mut dists = build_requirements();
    dists.push(build_sdist(&PipFixture {
        name: name.into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir,
    }));
    PypiIndex::start_with(dists)
}

/// `pip install -v --use-pep517 --index-url <url> pwtok` in `mode`, through
/// the shims from a fresh virtualenv: `pwtok` is an sdist whose `setup.py`
/// is `setup_py` ([`sdist_index`]), served from a URL that carries
/// `userinfo` (`user:password`, the way a private index's password is often
/// given in CI). `-v` shows what setup.py prints.
pub fn pip_sdist_with_password(
    setup_py: &str,
    userinfo: &str,
    mode: &str,
) -> super::installs::Installed {
    let index = sdist_index("pwtok", setup_py);
    let venv_home = super::TestHome::new();
    let venv = super::venv(&venv_home);
    let env = super::ShimEnv::new(&[&venv.join("bin")]);
    let url = index
        .index_url()
        .replace("http://", &format!("http://{userinfo}@"));
    let args = [
        "pip",
        "install",
        "-v",
        "--use-pep517",
        "--index-url",
        &url,
        "pwtok",
    ];
    super::installs::install(&env, mode, &args, env.home.path(), &[])
}
