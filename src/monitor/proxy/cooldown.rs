//! The release-age cooldown in the proxy, for a manager without a date gate
//! of its own: a metadata request to one of its registries is asked in the
//! form that carries release dates (a full package document, PEP 691 JSON),
//! without encoding or validators, and the answer is filtered at the cut-off
//! (`docfilter`) before the manager reads it. What cannot be filtered is
//! refused in block (403) and passed with a warning in protect, never
//! passed as if filtered. The kinds of document are the plan's data.

use super::record::Open;
use super::server::text;
use super::upstream::Body;
use crate::docfilter::{self, Cut, Unfiltered};
use crate::intel::osv::Ecosystem;
use crate::model::cooldown::DocKind;
use crate::model::cooldown::HeldBack;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// A package document's full form (npm-style registries: the abbreviated
/// one has no `time`).
const FULL_DOCUMENT: &str = "application/json";
/// PEP 691's JSON form of a simple page (PEP 503 HTML has no dates).
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// The largest document read whole to be filtered.
const MAX_DOCUMENT: usize = 256 << 20;

/// The cooldown the proxy enforces for one install.
#[derive(Clone, Debug)]
pub struct CooldownFilter {
    /// The cut-off and the exempt names.
    pub cut: Cut,
    /// The policy's age (`3days`) and the cut-off as written, for messages.
    pub age: String,
    /// The cut-off, RFC 3339.
    pub cutoff: String,
    /// The documents the manager's registries serve (the plan's data).
    pub docs: Vec<DocKind>,
    /// `host:port` of the manager's registries: only their answers are
    /// filtered.
    pub hosts: Vec<String>,
    /// Refuse what cannot be filtered (block, unless the policy allows an
    /// unenforced cooldown); else pass it with a warning.
    pub refuses: bool,
    /// The package documents read so far, by path: the versions each held
    /// back (a tarball is dated by them without asking again).
    pub dated: Dated,
}

/// The versions held back per package document read (its path, decoded),
/// shared by the install's connections.
#[derive(Clone, Debug, Default)]
pub struct Dated(Arc<Mutex<HashMap<String, Vec<String>>>>);

impl Dated {
    fn get(&self, doc: &str) -> Option<Vec<String>> {
        self.0.lock().ok()?.get(doc).cloned()
    }

    fn put(&self, doc: &str, held: &[HeldBack]) {
        if let Ok(mut m) = self.0.lock() {
            let versions = held.iter().map(|h| npm_version(&h.version)).collect();
            m.insert(doc.to_string(), versions);
        }
    }
}

/// A version as npm compares it (no `v`, no build metadata).
fn npm_version(v: &str) -> String {
    crate::intel::version::canonical(Ecosystem::Npm, v)
}

/// A package document's path as a key: decoded (`@s%2fx` is `@s/x`),
/// without a trailing `/`.
fn doc_key(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.replace("%2f", "/")
        .replace("%2F", "/")
        .trim_end_matches('/')
        .to_string()
}

/// A tarball asked of one of the registries (npm-style), and the package
/// document that dates it.
#[derive(Clone, Debug)]
pub(super) struct Tarball {
    /// The document's path on the registry: the tarball's, up to `/-/`.
    pub(super) doc: String,
    name: String,
    version: String,
}

/// A metadata request whose headers were rewritten: how its answer is read.
#[derive(Clone, Debug)]
pub(super) struct Asked {
    kind: DocKind,
    /// The document's path ([`doc_key`]): what dates its tarballs.
    doc: String,
    /// The client asked for PEP 503 HTML only: it gets the filtered page
    /// as HTML.
    html: bool,
    /// The URL names a file (`index.html`, a `--find-links` page, an
    /// archive): its answer is read only when it is a page, which lists
    /// archives as an index page does (an archive goes as it came).
    probe: bool,
}

/// True for the name of a distribution file or its PEP 658 metadata, which
/// an index may serve as text: never a page.
fn archive_name(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    [".whl", ".metadata", ".egg", ".asc"]
        .iter()
        .chain(&crate::intel::archive::SDIST_SUFFIXES)
        .any(|e| lower.ends_with(e))
}

/// True when a content type is one a manager reads links or versions from
/// (HTML in any of its names, XML, JSON, text): a page, not an archive.
fn page_type(ctype: &str) -> bool {
    ["html", "xml", "json"].iter().any(|t| ctype.contains(t)) || ctype.starts_with("text/")
}

/// True for a project's whole JSON document, `…/pypi/<name>/json`.
fn is_project_json(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.trim_end_matches('/').rsplit('/').take(3).collect();
    matches!(parts.as_slice(), ["json", name, "pypi"] if !name.is_empty())
}

/// True for one release's JSON document, `…/pypi/<name>/<version>/json`
/// (poetry reads it for every package it locks or installs: a lockfile's
/// pin reaches the registry there, not through a filtered list).
fn is_release_json(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.trim_end_matches('/').rsplit('/').take(4).collect();
    matches!(parts.as_slice(), ["json", v, name, "pypi"] if !name.is_empty() && !v.is_empty())
}

impl CooldownFilter {
    /// When `method path` to `hostport` asks one of the registries for a
    /// package's metadata: its headers are rewritten to ask for the dated
    /// form, unencoded, unconditionally (a validator would let a cached
    /// unfiltered copy stand), and how to read the answer is returned.
    pub(super) fn ask(
        &self,
        hostport: &str,
        method: &Method,
        path: &str,
        headers: &mut HeaderMap,
    ) -> Option<Asked> {
        if method != Method::GET || !self.hosts.iter().any(|h| h == hostport) {
            return None;
        }
        let last = path.rsplit('/').next().unwrap_or("");
        let json_doc = is_project_json(path) || is_release_json(path);
        let mut probe = false;
        let kind = if self.docs.contains(&DocKind::ProjectJson) && json_doc {
            DocKind::ProjectJson
        } else if self.docs.contains(&DocKind::Packument)
            && !path.contains("/-/")
            && !last.ends_with(".tgz")
        {
            DocKind::Packument
        } else if self.docs.contains(&DocKind::SimpleIndex) && !archive_name(last) {
            // A page at a file name is a page too (atk15): its answer says.
            probe = last.contains('.');
            DocKind::SimpleIndex
        } else {
            return None;
        };
        if probe {
            // As the client asked (an archive keeps its `Range`), but never
            // validated against a cached copy.
            for h in [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE] {
                headers.remove(h);
            }
            return Some(Asked {
                kind,
                doc: doc_key(path),
                html: false,
                probe,
            });
        }
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let html = kind == DocKind::SimpleIndex && !accept.contains(SIMPLE_JSON);
        let want = match kind {
            DocKind::Packument => Some(FULL_DOCUMENT),
            DocKind::SimpleIndex => Some(SIMPLE_JSON),
            // There is one form, JSON.
            DocKind::ProjectJson => None,
        };
        if let Some(want) = want {
            headers.insert(header::ACCEPT, HeaderValue::from_static(want));
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        for h in [
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_MATCH,
            header::IF_UNMODIFIED_SINCE,
            header::RANGE,
        ] {
            headers.remove(h);
        }
        Some(Asked {
            kind,
            doc: doc_key(path),
            html,
            probe,
        })
    }

    /// Whether the answer to an asked request is read by the filter: every
    /// success, but for a URL that names a file only a page.
    pub(super) fn reads(&self, asked: &Asked, resp: &Response<Incoming>) -> bool {
        if !resp.status().is_success() {
            return false;
        }
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        !asked.probe || page_type(&ctype)
    }

    /// The registry's successful answer to an asked request, filtered: the
    /// versions held back are recorded on `open`; what cannot be filtered is
    /// refused or passed with a warning (`refuses`). `url` names it in
    /// messages.
    pub(super) async fn answer(
        &self,
        asked: Asked,
        open: &Open,
        url: &str,
        resp: Response<Incoming>,
    ) -> Response<Body> {
        let (mut parts, body) = resp.into_parts();
        let raw = match Limited::new(body, MAX_DOCUMENT).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let why = format!("the registry's answer could not be read whole ({e})");
                return self.unfilterable(open, url, &why, None);
            }
        };
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_ascii_lowercase();
        let plain = match decode(&encoding, &raw) {
            Ok(p) => p,
            Err(why) => return self.unfilterable(open, url, &why, None),
        };
        parts.headers.remove(header::CONTENT_ENCODING);
        let ctype = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let filtered = match (asked.kind, ctype.contains("json")) {
            (DocKind::Packument, true) => docfilter::packument(&plain, &self.cut),
            (DocKind::Packument, false) => Err(Unfiltered::Unreadable(format!(
                "the registry answered {ctype:?}, not a JSON package document"
            ))),
            (DocKind::SimpleIndex, true) => docfilter::simple_index(&plain, &self.cut, asked.html),
            // Not a page (an archive at a URL without an extension): as it
            // came.
            (DocKind::SimpleIndex, false) if !ctype.is_empty() && !page_type(&ctype) => {
                Ok(docfilter::Filtered::default())
            }
            // HTML under any name (PEP 691's `…simple.v1+html`, which pip
            // reads), text, or no type (poetry reads any answer as HTML).
            (DocKind::SimpleIndex, false) => Err(Unfiltered::Undated(format!(
                "the index answered {ctype:?}: a page without upload dates (PEP 503 HTML has none; asked for PEP 691 JSON)"
            ))),
            (DocKind::ProjectJson, true) => docfilter::project_json(&plain, &self.cut),
            (DocKind::ProjectJson, false) => Err(Unfiltered::Unreadable(format!(
                "the registry answered {ctype:?}, not a JSON project document"
            ))),
        };
        let f = match filtered {
            Ok(f) => f,
            Err(e) => {
                let why = e.to_string();
                return self.unfilterable(open, url, &why, Some((parts, plain)));
            }
        };
        open.hold(&f.held);
        if asked.kind == DocKind::Packument {
            self.dated.put(&asked.doc, &f.held);
        }
        if let Some(name) = &f.exempt {
            open.note(&format!("cooldown: {name} is exempt"));
        }
        // What went through the filter is not the origin's representation:
        // its validators go, and a rewritten one is not kept by caches.
        parts.headers.remove(header::ETAG);
        parts.headers.remove(header::LAST_MODIFIED);
        let body = match f.body {
            Some(b) => {
                parts
                    .headers
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if asked.html {
                    parts.headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                }
                Bytes::from(b)
            }
            None => plain,
        };
        respond(parts, body, open)
    }

    /// A document the filter could not apply to: refused (403 naming
    /// pkgwarden and the policy key) or, in protect, passed with a warning.
    /// Both are recorded and said on stderr.
    fn unfilterable(
        &self,
        open: &Open,
        url: &str,
        why: &str,
        passed: Option<(hyper::http::response::Parts, Bytes)>,
    ) -> Response<Body> {
        let what = format!(
            "cooldown {} (cut-off {}) cannot be enforced on {url}: {why}",
            self.age, self.cutoff
        );
        let clean = crate::report::clean(&what);
        match passed {
            Some((parts, body)) if !self.refuses => {
                open.unfiltered(&format!("{what}; passed unfiltered"), false);
                eprintln!("pkgwarden: WARNING: {clean}; passed UNFILTERED");
                respond(parts, body, open)
            }
            _ => {
                open.unfiltered(&format!("{what}; refused (403)"), true);
                eprintln!("pkgwarden: proxy: {clean}; refused");
                text(
                    StatusCode::FORBIDDEN,
                    format!(
                        "pkgwarden: refused: the release-age {what}. `cooldown_allow_unenforced = true` in your user or system policy lets such documents through unfiltered\n"
                    ),
                )
            }
        }
    }
}

impl CooldownFilter {
    /// When `method path` to `hostport` downloads an npm-style tarball
    /// from one of the registries: the package and version it is, and the
    /// document that dates it. A lockfile's or a URL's pin reaches the
    /// registry without its document being asked (atk15).
    pub(super) fn tarball(&self, hostport: &str, method: &Method, path: &str) -> Option<Tarball> {
        if method != Method::GET
            || !self.docs.contains(&DocKind::Packument)
            || !self.hosts.iter().any(|h| h == hostport)
        {
            return None;
        }
        let path = path.split('?').next().unwrap_or(path);
        let (doc, _) = path.rsplit_once("/-/")?;
        let (name, version) = crate::intel::archive::readings(Ecosystem::Npm, path)
            .into_iter()
            .next()?;
        let doc = if doc.is_empty() { "/" } else { doc };
        Some(Tarball {
            doc: doc.to_string(),
            name,
            version,
        })
    }

    /// The tarball judged by a document already read: `None` when none
    /// was; else the refusal of a version held back, or `Some(None)`.
    pub(super) fn judged(&self, t: &Tarball, open: &Open) -> Option<Option<Response<Body>>> {
        let held = self.dated.get(&doc_key(&t.doc))?;
        let young = held.contains(&npm_version(&t.version));
        Some(young.then(|| self.too_young(t, open, None)))
    }

    /// The proxy's own request for the document that dates `t` (`origin`:
    /// `http://host:port`, or empty for origin-form), unencoded, whole.
    pub(super) fn doc_request(t: &Tarball, origin: &str, host: &str) -> Option<Request<Body>> {
        Request::get(format!("{origin}{}", t.doc))
            .header(header::HOST, host)
            .header(header::ACCEPT, FULL_DOCUMENT)
            .header(header::ACCEPT_ENCODING, "identity")
            .body(Full::new(Bytes::new()).map_err(|n| match n {}).boxed())
            .ok()
    }

    /// The tarball `t` judged by the registry's answer to [`doc_request`]:
    /// `None`, it may be fetched; else the refusal (a version released
    /// after the cut-off, or, in block, one that cannot be dated).
    pub(super) async fn judge_tarball(
        &self,
        t: &Tarball,
        open: &Open,
        url: &str,
        answer: std::io::Result<Response<Incoming>>,
    ) -> Option<Response<Body>> {
        let dated = match answer {
            Ok(resp) if resp.status().is_success() => date(t, self, resp).await,
            Ok(resp) => Err(format!("its package document answered {}", resp.status())),
            Err(e) => Err(format!("its package document could not be asked ({e})")),
        };
        match dated {
            Ok(None) => None,
            Ok(Some(released)) => Some(self.too_young(t, open, Some(released))),
            Err(why) => self.undated_tarball(open, url, &why),
        }
    }

    /// A tarball whose document does not date it: refused in block, else
    /// fetched with a warning (the cooldown then not enforced).
    fn undated_tarball(&self, open: &Open, url: &str, why: &str) -> Option<Response<Body>> {
        let what = format!(
            "cooldown {} (cut-off {}) cannot be enforced on {url}: the tarball cannot be dated: {why}",
            self.age, self.cutoff
        );
        let clean = crate::report::clean(&what);
        if !self.refuses {
            open.unfiltered(&format!("{what}; passed unfiltered"), false);
            eprintln!("pkgwarden: WARNING: {clean}; passed UNFILTERED");
            return None;
        }
        open.unfiltered(&format!("{what}; refused (403)"), true);
        eprintln!("pkgwarden: proxy: {clean}; refused");
        Some(text(
            StatusCode::FORBIDDEN,
            format!(
                "pkgwarden: refused: the release-age {what}. `cooldown_allow_unenforced = true` in your user or system policy lets such tarballs through\n"
            ),
        ))
    }

    /// The refusal of `t`, released after the cut-off: recorded as held
    /// back (when its date is known here) and said.
    fn too_young(&self, t: &Tarball, open: &Open, released: Option<String>) -> Response<Body> {
        let shown = released.clone().unwrap_or_else(|| "recently".into());
        if let Some(r) = released {
            open.hold(&[HeldBack {
                package: t.name.clone(),
                version: t.version.clone(),
                released: r,
            }]);
        }
        let what = format!(
            "{}@{} was released after the cut-off {} of the release-age cooldown {} (released {shown}); its tarball was asked without its registry's list (a lockfile's or a URL's pin)",
            t.name, t.version, self.cutoff, self.age
        );
        open.unfiltered(&format!("{what}; refused (403)"), true);
        eprintln!("pkgwarden: proxy: {}; refused", crate::report::clean(&what));
        text(
            StatusCode::FORBIDDEN,
            format!(
                "pkgwarden: refused: {what}. `cooldown_exempt` in your user or system policy lets a package through\n"
            ),
        )
    }
}

/// When the package document in `resp` dates `t` after `filter`'s
/// cut-off: its release time; `Ok(None)` when it is older (or exempt);
/// `Err` when the document does not date it.
async fn date(
    t: &Tarball,
    filter: &CooldownFilter,
    resp: Response<Incoming>,
) -> Result<Option<String>, String> {
    let (parts, body) = resp.into_parts();
    let raw = Limited::new(body, MAX_DOCUMENT)
        .collect()
        .await
        .map_err(|e| format!("its package document could not be read whole ({e})"))?
        .to_bytes();
    let encoding = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_ascii_lowercase();
    let plain = decode(&encoding, &raw)?;
    let f = docfilter::packument(&plain, &filter.cut).map_err(|e| e.to_string())?;
    // The package's other tarballs are dated without asking again.
    filter.dated.put(&doc_key(&t.doc), &f.held);
    if f.exempt.is_some() {
        return Ok(None);
    }
    let want = npm_version(&t.version);
    if let Some(h) = f.held.iter().find(|h| npm_version(&h.version) == want) {
        return Ok(Some(h.released.clone()));
    }
    // Kept, or not listed at all: a version the document does not list has
    // no date.
    let doc: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|e| format!("not JSON ({e})"))?;
    let listed = doc
        .get("versions")
        .and_then(|v| v.as_object())
        .is_some_and(|vs| vs.keys().any(|k| npm_version(k) == want));
    match listed {
        true => Ok(None),
        false => Err(format!("its package document does not list {}", t.version)),
    }
}

/// The response with `body`, its length set.
fn respond(mut parts: hyper::http::response::Parts, body: Bytes, open: &Open) -> Response<Body> {
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    open.add_down(body.len() as u64);
    Response::from_parts(parts, Full::new(body).map_err(|n| match n {}).boxed())
}

/// The body without its content coding (gzip, deflate); another coding
/// cannot be read.
fn decode(encoding: &str, raw: &Bytes) -> Result<Bytes, String> {
    let mut out = Vec::new();
    let read = match encoding.trim() {
        "" | "identity" => return Ok(raw.clone()),
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_DOCUMENT as u64)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&raw[..])
            .take(MAX_DOCUMENT as u64)
            .read_to_end(&mut out),
        other => return Err(format!("the registry sent it encoded as {other:?}")),
    };
    read.map(|_| Bytes::from(out))
        .map_err(|e| format!("its {encoding} encoding could not be read ({e})"))
}

#[cfg(test)]
mod tests {
    use super::{is_project_json, is_release_json};

    #[test]
    fn only_a_whole_project_document_is_a_json_project_document() {
        for p in [
            "/pypi/pw-cool/json",
            "/pypi/pw-cool/json/",
            "/x/pypi/a/json?x=1",
        ] {
            assert!(is_project_json(p), "{p}");
        }
        assert!(is_release_json("/pypi/pw-cool/1.0/json"));
        assert!(!is_release_json("/pypi/pw-cool/json"));
        for p in [
            "/pypi/pw-cool/1.0/json",
            "/simple/pw-cool/",
            "/pypi//json",
            "/json",
        ] {
            assert!(!is_project_json(p), "{p}");
        }
    }
}
