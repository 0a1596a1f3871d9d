//! Registry metadata filtered by release date: the release-age cooldown
//! where a manager has no date gate of its own. A package document keeps
//! only the versions released at or before the cut-off, so the manager's
//! own resolver picks the next-older one. Pure functions over the bytes the
//! registry sent; the proxy applies them (`monitor::proxy::cooldown`).
//!
//! Fail closed: a document that gives no date for what it lists, or cannot
//! be read, is an error the caller refuses (block) or reports (protect);
//! never passed on as filtered.

use crate::model::cooldown::HeldBack;
use serde_json::{Map, Value};
use std::time::SystemTime;

/// The cut-off and the exemptions one install's documents are filtered by.
#[derive(Clone, Debug)]
pub struct Cut {
    /// Versions released after this are held back.
    pub at: SystemTime,
    /// Package names (npm globs) let through at their newest.
    pub exempt: Vec<String>,
}

/// What filtering one document gave.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filtered {
    /// The document to send instead; `None`: the original goes as it came.
    pub body: Option<Vec<u8>>,
    /// The versions held back.
    pub held: Vec<HeldBack>,
    /// The package was exempt (its name).
    pub exempt: Option<String>,
}

/// Why a document could not be filtered.
#[derive(Debug, PartialEq, Eq)]
pub enum Unfiltered {
    /// It lists versions or files without a release date.
    Undated(String),
    /// It is not a document of the kind expected.
    Unreadable(String),
}

impl std::fmt::Display for Unfiltered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfiltered::Undated(w) | Unfiltered::Unreadable(w) => f.write_str(w),
        }
    }
}

/// An RFC 3339 instant as registries write it (`Z`, or `+00:00`; fractions
/// of a second). Other offsets: `None` (treated as no date: fail closed).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let t = s.trim();
    let t = t
        .strip_suffix("+00:00")
        .map_or(t.to_string(), |b| format!("{b}Z"));
    humantime::parse_rfc3339_weak(t.trim_end_matches('Z'))
        .ok()
        .filter(|_| t.ends_with('Z'))
}

/// True when `name` is exempt: npm globs (`@myorg/*`) or exact names, Python
/// names compared normalized when `python`.
fn exempt(cut: &Cut, name: &str, python: bool) -> bool {
    let norm = |s: &str| match python {
        true => normalize_python(s),
        false => s.to_string(),
    };
    let name = norm(name);
    cut.exempt
        .iter()
        .any(|e| crate::glob::match_name(&norm(e), &name))
}

/// PEP 503 normalization (`Foo_Bar.baz` is `foo-bar-baz`), as the feed
/// compares Python names.
pub fn normalize_python(name: &str) -> String {
    crate::intel::osv::Ecosystem::Pypi.normalize(name)
}

/// An npm-style package document (`versions`, `time`, `dist-tags`):
/// versions released after the cut-off are removed, and a dist-tag that
/// named one is moved to the newest version kept. A one-version manifest
/// (it has `dist`, not `versions`) carries no date: `Undated`. Other JSON
/// objects are not package documents and go as they came.
pub fn packument(body: &[u8], cut: &Cut) -> Result<Filtered, Unfiltered> {
    let mut doc: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(Unfiltered::Unreadable("not a JSON object".into())),
        Err(e) => return Err(Unfiltered::Unreadable(format!("not JSON ({e})"))),
    };
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(versions) = doc.get("versions") else {
        if doc.get("dist").is_some() {
            return Err(Unfiltered::Undated(format!(
                "a manifest of one version of {name} carries no release date"
            )));
        }
        return Ok(Filtered::default());
    };
    let Some(versions) = versions.as_object() else {
        return Err(Unfiltered::Unreadable("`versions` is not an object".into()));
    };
    if exempt(cut, &name, false) {
        return Ok(Filtered {
            exempt: Some(name),
            ..Filtered::default()
        });
    }
    let Some(times) = doc.get("time").and_then(Value::as_object) else {
        return Err(Unfiltered::Undated(format!(
            "{name}'s document has no `time` (an abbreviated document?)"
        )));
    };
    let mut held = Vec::new();
    let mut kept: Vec<(SystemTime, String)> = Vec::new();
    for v in versions.keys() {
        let shown = times.get(v).and_then(Value::as_str);
        match shown.and_then(parse_time) {
            Some(t) if t <= cut.at => kept.push((t, v.clone())),
            // No date: held back, as npm's own `before` does.
            _ => held.push(HeldBack {
                package: name.clone(),
                version: v.clone(),
                released: shown.unwrap_or("unknown").to_string(),
            }),
        }
    }
    if held.is_empty() {
        return Ok(Filtered::default());
    }
    let newest = kept.iter().max().map(|(_, v)| v.clone());
    let gone = |v: &str| held.iter().any(|h| h.version == v);
    if let Some(Value::Object(vs)) = doc.get_mut("versions") {
        vs.retain(|v, _| !gone(v));
    }
    if let Some(Value::Object(ts)) = doc.get_mut("time") {
        ts.retain(|v, _| !gone(v));
    }
    if let Some(Value::Object(tags)) = doc.get_mut("dist-tags") {
        tags.retain(|_, v| !v.as_str().is_some_and(gone) || newest.is_some());
        for v in tags.values_mut() {
            if v.as_str().is_some_and(gone)
                && let Some(n) = &newest
            {
                *v = Value::String(n.clone());
            }
        }
    }
    let body = serde_json::to_vec(&doc).map_err(|e| Unfiltered::Unreadable(e.to_string()))?;
    Ok(Filtered {
        body: Some(body),
        held,
        exempt: None,
    })
}

/// The version a Python distribution's file name carries (`pkg-1.0-py3-…
/// .whl`, `pkg-1.0.tar.gz`); the file name itself when it cannot be read.
fn python_version(file: &str) -> String {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".whl") || lower.ends_with(".egg") {
        return file.split('-').nth(1).unwrap_or(file).to_string();
    }
    let exts = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"];
    exts.iter()
        .find(|e| lower.ends_with(*e))
        .and_then(|e| file[..file.len() - e.len()].rsplit_once('-'))
        .map_or(file, |(_, v)| v)
        .to_string()
}

/// A PEP 691 JSON project page: files uploaded after the cut-off are
/// removed (a file without `upload-time` makes the page `Undated`). With
/// `html`, the page is given as PEP 503 HTML (for a client that did not ask
/// for JSON), filtered or not.
pub fn simple_index(body: &[u8], cut: &Cut, html: bool) -> Result<Filtered, Unfiltered> {
    let mut doc: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Unfiltered::Unreadable("not a PEP 691 JSON page".into())),
    };
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(files) = doc.get("files").and_then(Value::as_array) else {
        return Err(Unfiltered::Unreadable(format!(
            "{name}'s page has no `files`"
        )));
    };
    let mut out = Filtered::default();
    if exempt(cut, &name, true) {
        out.exempt = Some(name.clone());
    }
    let mut drop = Vec::new();
    // An exempt package's files are not dated at all.
    let dated = if out.exempt.is_some() {
        &[][..]
    } else {
        &files[..]
    };
    for (i, f) in dated.iter().enumerate() {
        let file = f.get("filename").and_then(Value::as_str).unwrap_or("?");
        let Some(shown) = f.get("upload-time").and_then(Value::as_str) else {
            return Err(Unfiltered::Undated(format!("{file} has no upload-time")));
        };
        let Some(at) = parse_time(shown) else {
            return Err(Unfiltered::Undated(format!(
                "{file}'s upload-time {shown:?} is not UTC RFC 3339"
            )));
        };
        if at > cut.at {
            drop.push(i);
            let version = python_version(file);
            match out.held.iter_mut().find(|h| h.version == version) {
                Some(h) if h.released.as_str() > shown => h.released = shown.to_string(),
                Some(_) => {}
                None => out.held.push(HeldBack {
                    package: name.clone(),
                    version,
                    released: shown.to_string(),
                }),
            }
        }
    }
    if !drop.is_empty()
        && let Some(Value::Array(fs)) = doc.get_mut("files")
    {
        let mut i = 0;
        fs.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
        // PEP 700's `versions`: the ones whose every file is gone go too.
        let left: Vec<String> = fs
            .iter()
            .filter_map(|f| f.get("filename")?.as_str().map(python_version))
            .collect();
        let gone: Vec<&str> = out
            .held
            .iter()
            .map(|h| h.version.as_str())
            .filter(|v| !left.iter().any(|l| l == v))
            .collect();
        if let Some(Value::Array(vs)) = doc.get_mut("versions") {
            vs.retain(|v| !v.as_str().is_some_and(|v| gone.contains(&v)));
        }
    }
    if html {
        out.body = Some(render_html(&name, &doc));
    } else if !drop.is_empty() {
        out.body =
            Some(serde_json::to_vec(&doc).map_err(|e| Unfiltered::Unreadable(e.to_string()))?);
    }
    Ok(out)
}

/// When a release of a JSON project document was uploaded: its first
/// file's time (`upload_time_iso_8601`, else `upload_time`, which is UTC
/// without a zone). `Ok(None)` for a release with no files (nothing to
/// install); an undated file is `Undated`.
fn release_time(
    files: &[Value],
    version: &str,
) -> Result<Option<(SystemTime, String)>, Unfiltered> {
    let mut first: Option<(SystemTime, String)> = None;
    for f in files {
        let shown = f
            .get("upload_time_iso_8601")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let t = f.get("upload_time")?.as_str()?;
                Some(if t.ends_with('Z') {
                    t.to_string()
                } else {
                    format!("{t}Z")
                })
            });
        let Some(at) = shown.as_deref().and_then(parse_time) else {
            return Err(Unfiltered::Undated(format!(
                "a file of release {version} has no upload time"
            )));
        };
        if first.as_ref().is_none_or(|(t, _)| at < *t) {
            first = shown.map(|s| (at, s));
        }
    }
    Ok(first)
}

/// A JSON project document (`…/pypi/<name>/json`): releases first uploaded
/// after the cut-off are removed from `releases`, and when `info.version`
/// was one of them it becomes the newest kept release, with `urls` its
/// files.
pub fn project_json(body: &[u8], cut: &Cut) -> Result<Filtered, Unfiltered> {
    let mut doc: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Unfiltered::Unreadable("not a JSON project document".into())),
    };
    let name = doc
        .get("info")
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if doc.get("releases").is_none() && doc.get("urls").is_some_and(Value::is_array) {
        return release_json(doc, &name, cut);
    }
    let Some(releases) = doc.get("releases").and_then(Value::as_object) else {
        return Err(Unfiltered::Unreadable(format!(
            "{name}'s document has no `releases`"
        )));
    };
    if exempt(cut, &name, true) {
        return Ok(Filtered {
            exempt: Some(name),
            ..Filtered::default()
        });
    }
    let mut held = Vec::new();
    let mut kept: Vec<(SystemTime, String)> = Vec::new();
    for (version, files) in releases {
        let files = files.as_array().map(Vec::as_slice).unwrap_or(&[]);
        match release_time(files, version)? {
            Some((at, shown)) if at > cut.at => held.push(HeldBack {
                package: name.clone(),
                version: version.clone(),
                released: shown,
            }),
            Some((at, _)) => kept.push((at, version.clone())),
            None => {}
        }
    }
    if held.is_empty() {
        return Ok(Filtered::default());
    }
    let gone = |v: &str| held.iter().any(|h| h.version == v);
    let newest = kept.iter().max().map(|(_, v)| v.clone());
    let mut newest_files = Value::Array(Vec::new());
    if let Some(Value::Object(rs)) = doc.get_mut("releases") {
        rs.retain(|v, _| !gone(v));
        if let Some(files) = newest.as_ref().and_then(|n| rs.get(n)) {
            newest_files = files.clone();
        }
    }
    let shown = doc
        .get("info")
        .and_then(|i| i.get("version"))
        .and_then(Value::as_str)
        .is_some_and(gone);
    if shown {
        if let (Some(Value::Object(info)), Some(n)) = (doc.get_mut("info"), &newest) {
            info.insert("version".into(), Value::String(n.clone()));
        }
        doc.insert("urls".into(), newest_files);
    }
    let body = serde_json::to_vec(&doc).map_err(|e| Unfiltered::Unreadable(e.to_string()))?;
    Ok(Filtered {
        body: Some(body),
        held,
        exempt: None,
    })
}

/// One release's JSON document (`…/pypi/<name>/<version>/json`: `info`,
/// `urls`): a release first uploaded after the cut-off loses its files (a
/// lockfile's pin then finds nothing to install, as a gate's would); an
/// older one goes as it came.
fn release_json(
    mut doc: Map<String, Value>,
    name: &str,
    cut: &Cut,
) -> Result<Filtered, Unfiltered> {
    let version = doc
        .get("info")
        .and_then(|i| i.get("version"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    if exempt(cut, name, true) {
        return Ok(Filtered {
            exempt: Some(name.to_string()),
            ..Filtered::default()
        });
    }
    let files = doc.get("urls").and_then(Value::as_array).map(Vec::as_slice);
    let Some((at, shown)) = release_time(files.unwrap_or(&[]), &version)? else {
        return Ok(Filtered::default());
    };
    if at <= cut.at {
        return Ok(Filtered::default());
    }
    doc.insert("urls".into(), Value::Array(Vec::new()));
    let body = serde_json::to_vec(&doc).map_err(|e| Unfiltered::Unreadable(e.to_string()))?;
    Ok(Filtered {
        body: Some(body),
        held: vec![HeldBack {
            package: name.to_string(),
            version,
            released: shown,
        }],
        exempt: None,
    })
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A PEP 691 page as the PEP 503 HTML page the same index would serve:
/// links with the hash fragment, `data-requires-python`, `data-yanked` and
/// the core-metadata attributes (PEP 658/714).
fn render_html(name: &str, doc: &Map<String, Value>) -> Vec<u8> {
    let title = escape(&format!("Links for {name}"));
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let files = doc.get("files").and_then(Value::as_array);
    for f in files.into_iter().flatten() {
        let s = |k: &str| f.get(k).and_then(Value::as_str);
        let (Some(file), Some(url)) = (s("filename"), s("url")) else {
            continue;
        };
        let mut href = url.to_string();
        if let Some(hashes) = f.get("hashes").and_then(Value::as_object) {
            let pick = hashes
                .get_key_value("sha256")
                .or_else(|| hashes.iter().next());
            if let Some((k, Value::String(h))) = pick {
                href.push_str(&format!("#{k}={h}"));
            }
        }
        let mut attrs = String::new();
        if let Some(rp) = s("requires-python") {
            attrs.push_str(&format!(" data-requires-python=\"{}\"", escape(rp)));
        }
        match f.get("yanked") {
            Some(Value::Bool(true)) => attrs.push_str(" data-yanked=\"\""),
            Some(Value::String(why)) => {
                attrs.push_str(&format!(" data-yanked=\"{}\"", escape(why)));
            }
            _ => {}
        }
        let meta = f
            .get("core-metadata")
            .or_else(|| f.get("dist-info-metadata"));
        let meta = match meta {
            Some(Value::Bool(true)) => Some("true".to_string()),
            Some(Value::Object(h)) => h
                .iter()
                .next()
                .and_then(|(k, v)| Some(format!("{k}={}", v.as_str()?))),
            _ => None,
        };
        if let Some(m) = meta {
            let m = escape(&m);
            attrs.push_str(&format!(
                " data-core-metadata=\"{m}\" data-dist-info-metadata=\"{m}\""
            ));
        }
        out.push_str(&format!(
            "<a href=\"{}\"{attrs}>{}</a><br/>\n",
            escape(&href),
            escape(file)
        ));
    }
    out.push_str("</body>\n</html>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn cut(exempt: &[&str]) -> Cut {
        Cut {
            at: parse_time("2026-01-10T00:00:00Z").unwrap(),
            exempt: exempt.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn project_doc() -> Vec<u8> {
        let file = |name: &str, at: &str| json!({"filename": name, "upload_time_iso_8601": at});
        json!({
            "info": {"name": "Pw_Cool", "version": "1.1"},
            "releases": {
                "1.0": [file("pw_cool-1.0.tar.gz", "2025-01-01T00:00:00.000000Z"),
                        file("pw_cool-1.0-py3-none-any.whl", "2026-02-01T00:00:00.000000Z")],
                "1.1": [file("pw_cool-1.1.tar.gz", "2026-01-11T00:00:00.000000Z")],
                "0.1": [],
            },
            "urls": [file("pw_cool-1.1.tar.gz", "2026-01-11T00:00:00.000000Z")],
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_json_project_document_keeps_releases_first_uploaded_before_the_cut() {
        let f = project_json(&project_doc(), &cut(&[])).unwrap();
        let doc: Value = serde_json::from_slice(&f.body.unwrap()).unwrap();
        assert!(doc["releases"].get("1.1").is_none(), "{doc}");
        // A release is dated by its first file: a wheel added later keeps it.
        assert_eq!(doc["releases"]["1.0"].as_array().unwrap().len(), 2);
        assert!(doc["releases"].get("0.1").is_some());
        assert_eq!(doc["info"]["version"], "1.0");
        assert_eq!(doc["urls"], doc["releases"]["1.0"]);
        assert_eq!(
            f.held,
            vec![HeldBack {
                package: "Pw_Cool".into(),
                version: "1.1".into(),
                released: "2026-01-11T00:00:00.000000Z".into()
            }]
        );
        // Exempt by its normalized name; nothing held back.
        let f = project_json(&project_doc(), &cut(&["pw-cool"])).unwrap();
        assert_eq!((f.body, f.exempt.as_deref()), (None, Some("Pw_Cool")));
        // Nothing newer than the cut: as it came.
        let late = Cut {
            at: parse_time("2027-01-01T00:00:00Z").unwrap(),
            exempt: Vec::new(),
        };
        assert_eq!(
            project_json(&project_doc(), &late).unwrap(),
            Filtered::default()
        );
    }

    #[test]
    fn a_json_project_document_that_cannot_be_dated_is_not_passed_as_filtered() {
        let undated = json!({"info": {"name": "x", "version": "1"},
                             "releases": {"1": [{"filename": "x-1.tar.gz"}]}});
        assert!(matches!(
            project_json(undated.to_string().as_bytes(), &cut(&[])),
            Err(Unfiltered::Undated(_))
        ));
        // `upload_time` without a zone is UTC.
        let old_form = json!({"info": {"name": "x", "version": "2"},
            "releases": {"1": [{"upload_time": "2025-01-01T00:00:00"}],
                         "2": [{"upload_time": "2026-03-01T00:00:00"}]}});
        let f = project_json(old_form.to_string().as_bytes(), &cut(&[])).unwrap();
        assert_eq!(f.held.len(), 1);
        for bad in [&b"[]"[..], b"not json", br#"{"info": {}}"#] {
            assert!(matches!(
                project_json(bad, &cut(&[])),
                Err(Unfiltered::Unreadable(_))
            ));
        }
    }

    #[test]
    fn a_release_json_document_is_dated_by_its_first_file() {
        let doc = |at: &str| {
            json!({"info": {"name": "Pw_Cool", "version": "1.1"},
                   "urls": [{"filename": "pw_cool-1.1.tar.gz", "upload_time_iso_8601": at}]})
            .to_string()
            .into_bytes()
        };
        let f = project_json(&doc("2026-01-11T00:00:00Z"), &cut(&[])).unwrap();
        let got: Value = serde_json::from_slice(&f.body.unwrap()).unwrap();
        assert_eq!(got["urls"], json!([]));
        assert_eq!(f.held[0].version, "1.1");
        let old = project_json(&doc("2025-01-11T00:00:00Z"), &cut(&[])).unwrap();
        assert_eq!(old, Filtered::default());
        let f = project_json(&doc("2026-01-11T00:00:00Z"), &cut(&["pw-cool"])).unwrap();
        assert_eq!((f.body, f.exempt.as_deref()), (None, Some("Pw_Cool")));
        let undated =
            json!({"info": {"name": "x", "version": "1"}, "urls": [{"filename": "x-1.tar.gz"}]});
        assert!(matches!(
            project_json(undated.to_string().as_bytes(), &cut(&[])),
            Err(Unfiltered::Undated(_))
        ));
    }

    fn packument_doc() -> Vec<u8> {
        json!({
            "name": "pwcool",
            "dist-tags": {"latest": "1.1.0", "beta": "1.2.0-b", "old": "1.0.0"},
            "versions": {"1.0.0": {}, "1.1.0": {}, "1.2.0-b": {}},
            "time": {"created": "2025-01-01T00:00:00.000Z", "1.0.0": "2025-01-01T00:00:00.000Z",
                     "1.1.0": "2026-01-11T00:00:00.000Z", "1.2.0-b": "2026-01-12T00:00:00.000Z"}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_packument_loses_the_young_versions_and_its_tags_move() {
        let f = packument(&packument_doc(), &cut(&[])).unwrap();
        let doc: Value = serde_json::from_slice(f.body.as_ref().unwrap()).unwrap();
        assert_eq!(doc["versions"], json!({"1.0.0": {}}));
        assert_eq!(
            doc["dist-tags"],
            json!({"latest": "1.0.0", "beta": "1.0.0", "old": "1.0.0"})
        );
        assert!(doc["time"].get("1.1.0").is_none());
        let held: Vec<_> = f.held.iter().map(|h| h.version.as_str()).collect();
        assert_eq!(held, ["1.1.0", "1.2.0-b"]);
        assert_eq!(f.held[0].released, "2026-01-11T00:00:00.000Z");
    }

    #[test]
    fn an_exempt_or_old_packument_goes_as_it_came() {
        let f = packument(&packument_doc(), &cut(&["pw*"])).unwrap();
        assert_eq!((f.body, f.exempt.as_deref()), (None, Some("pwcool")));
        let late = Cut {
            at: cut(&[]).at + Duration::from_secs(86_400 * 10),
            exempt: vec![],
        };
        assert_eq!(
            packument(&packument_doc(), &late).unwrap(),
            Filtered::default()
        );
    }

    #[test]
    fn what_cannot_be_dated_fails_closed() {
        let abbreviated =
            json!({"name": "x", "versions": {"1.0.0": {}}, "modified": "2026-01-01T00:00:00Z"});
        assert!(matches!(
            packument(abbreviated.to_string().as_bytes(), &cut(&[])),
            Err(Unfiltered::Undated(_))
        ));
        let manifest = json!({"name": "x", "version": "1.0.0", "dist": {}});
        assert!(matches!(
            packument(manifest.to_string().as_bytes(), &cut(&[])),
            Err(Unfiltered::Undated(_))
        ));
        assert!(matches!(
            packument(b"<html>", &cut(&[])),
            Err(Unfiltered::Unreadable(_))
        ));
        let undated = json!({"name": "x", "files": [{"filename": "x-1.0.tar.gz", "url": "x"}]});
        assert!(matches!(
            simple_index(undated.to_string().as_bytes(), &cut(&[]), false),
            Err(Unfiltered::Undated(_))
        ));
        assert!(parse_time("2026-01-01T00:00:00+02:00").is_none());
        assert!(parse_time("2026-01-01T00:00:00.123456+00:00").is_some());
    }

    fn page() -> Vec<u8> {
        json!({"meta": {"api-version": "1.1"}, "name": "pw-cool", "versions": ["1.0.0", "1.1.0"],
            "files": [
                {"filename": "pw_cool-1.0.0-py3-none-any.whl", "url": "/f/a.whl", "hashes": {"sha256": "aa"},
                 "upload-time": "2025-01-01T00:00:00.000000Z", "requires-python": ">=3.8", "core-metadata": {"sha256": "bb"}},
                {"filename": "pw_cool-1.1.0-py3-none-any.whl", "url": "/f/b.whl", "hashes": {"sha256": "cc"},
                 "upload-time": "2026-01-11T00:00:00Z"},
                {"filename": "pw_cool-1.1.0.tar.gz", "url": "/f/b.tar.gz", "hashes": {"sha256": "dd"},
                 "upload-time": "2026-01-10T12:00:00Z", "yanked": "bad"}
            ]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_simple_page_loses_the_young_files() {
        let f = simple_index(&page(), &cut(&[]), false).unwrap();
        let doc: Value = serde_json::from_slice(f.body.as_ref().unwrap()).unwrap();
        assert_eq!(doc["files"].as_array().unwrap().len(), 1);
        assert_eq!(doc["versions"], json!(["1.0.0"]));
        assert_eq!(f.held.len(), 1, "{:?}", f.held);
        assert_eq!(
            (f.held[0].version.as_str(), f.held[0].released.as_str()),
            ("1.1.0", "2026-01-10T12:00:00Z")
        );
        let f = simple_index(&page(), &cut(&["PW_Cool"]), false).unwrap();
        assert_eq!((f.body, f.exempt.as_deref()), (None, Some("pw-cool")));
    }

    #[test]
    fn a_simple_page_is_given_as_html_to_a_client_that_asked_for_it() {
        let f = simple_index(&page(), &cut(&[]), true).unwrap();
        let html = String::from_utf8(f.body.unwrap()).unwrap();
        assert!(
            html.contains("<a href=\"/f/a.whl#sha256=aa\" data-requires-python=\"&gt;=3.8\" data-core-metadata=\"sha256=bb\""),
            "{html}"
        );
        assert!(!html.contains("1.1.0"), "{html}");
    }

    /// The filter's cost on a large document (README): `cargo test
    /// --release --lib docfilter::tests::bench -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_a_large_packument() {
        let mut versions = Map::new();
        let mut time = Map::new();
        for i in 0..3000 {
            let v = format!("1.{i}.0");
            let deps: Map<String, Value> = (0..20)
                .map(|d| (format!("dep-{d}"), json!("^1.0.0")))
                .collect();
            versions.insert(
                v.clone(),
                json!({"name": "big", "version": v, "dependencies": deps,
                       "dist": {"tarball": format!("http://r/big/-/big-{v}.tgz"), "integrity": "sha512-".repeat(12)}}),
            );
            let day = if i < 2990 { "2025-01-01" } else { "2026-02-01" };
            time.insert(v, json!(format!("{day}T00:00:00.000Z")));
        }
        let doc = json!({"name": "big", "dist-tags": {"latest": "1.2999.0"}, "versions": versions, "time": time})
            .to_string()
            .into_bytes();
        let start = std::time::Instant::now();
        let runs = 20;
        for _ in 0..runs {
            let f = packument(&doc, &cut(&[])).unwrap();
            assert_eq!(f.held.len(), 10);
        }
        println!(
            "packument of {} bytes, 3000 versions: {:?} per filter",
            doc.len(),
            start.elapsed() / runs
        );
    }

    #[test]
    fn python_versions_come_from_file_names() {
        assert_eq!(python_version("a_b-1.0-py3-none-any.whl"), "1.0");
        assert_eq!(python_version("a-b-2.0.post1.tar.gz"), "2.0.post1");
        assert_eq!(python_version("odd"), "odd");
        assert_eq!(normalize_python("Pw__Cool.x"), "pw-cool-x");
    }
}
