//! Which manager a `python` command line runs when it names none as
//! `-m pip`: a module of a manager's package (`-m pipx`, `-m uv`,
//! `-m pip.__pip-runner__`), or a script operand that is one (pip's
//! directory, `pip.pyz`, `…/pip/__main__.py`, a console script importing
//! pip). Each manager's own grammar then says whether the line installs.
//!
//! Fails closed: a directory or archive operand runs a `__main__` nothing
//! here can read, so it is an install when any manager's grammar would
//! install with its arguments (the full binary then sandboxes it). A plain
//! script is read only as far as its first few KiB: what it imports.

use super::{Classified, Opt, Tool};
use std::io::Read;
use std::path::Path;

/// A manager a `python` line can run as a module or script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyManager {
    /// pip (and its runner, `get-pip.py` aside).
    Pip,
    /// `get-pip.py`: installs pip with pip install's options, no verb.
    GetPip,
    /// ensurepip, the standard library's pip installer.
    Ensurepip,
    /// pipx.
    Pipx,
    /// uv's Python package (its `__main__` execs the uv binary).
    Uv,
    /// poetry.
    Poetry,
    /// conda.
    Conda,
    /// mamba's Python package.
    Mamba,
}

impl PyManager {
    /// The manager whose top-level package is `top`.
    pub fn from_package(top: &str) -> Option<Self> {
        Some(match top {
            "pip" => Self::Pip,
            "ensurepip" => Self::Ensurepip,
            "pipx" => Self::Pipx,
            "uv" => Self::Uv,
            "poetry" => Self::Poetry,
            "conda" => Self::Conda,
            "mamba" => Self::Mamba,
            _ => return None,
        })
    }

    /// The name the install's command carries (`-m <name> …`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Pip | Self::GetPip => "pip",
            Self::Ensurepip => "ensurepip",
            Self::Pipx => "pipx",
            Self::Uv => "uv",
            Self::Poetry => "poetry",
            Self::Conda => "conda",
            Self::Mamba => "mamba",
        }
    }

    /// The tool whose grammar reads the line (pip's are in `pip`).
    fn tool(self) -> Option<Tool> {
        match self {
            Self::Pipx => Some(Tool::Pipx),
            Self::Uv => Some(Tool::Uv),
            Self::Poetry => Some(Tool::Poetry),
            Self::Conda => Some(Tool::Conda),
            Self::Mamba => Some(Tool::Mamba),
            Self::Pip | Self::GetPip | Self::Ensurepip => None,
        }
    }
}

/// The manager `-m <module>` runs: any module of a manager's package (its
/// submodules run the manager's code too: `pip.__pip-runner__`).
pub fn module_manager(module: &str) -> Option<PyManager> {
    PyManager::from_package(module.split('.').next().unwrap_or(module))
}

/// What a script operand of `python` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A manager, by its name, its place or what it imports.
    Manager(PyManager),
    /// A directory or archive: its `__main__` is not read; it may be any
    /// manager.
    Unknown,
    /// A plain script that imports no manager (or no file at all).
    Script,
}

/// How much of a script is read for its imports (a console script's whole
/// text is a few hundred bytes).
const HEAD: usize = 4096;

/// What the operand `word` (as written, relative to the working directory)
/// is. Reads its metadata and at most [`HEAD`] bytes of it.
pub fn operand(word: &str) -> Operand {
    let path = Path::new(word);
    // Python reports a missing script and runs nothing.
    let Ok(meta) = std::fs::metadata(path) else {
        return Operand::Script;
    };
    let real = std::fs::canonicalize(path).ok();
    let by_name = named(path, meta.is_dir())
        .or_else(|| real.as_deref().and_then(|r| named(r, meta.is_dir())));
    if let Some(m) = by_name {
        return Operand::Manager(m);
    }
    if meta.is_dir() {
        return match head(&path.join("__main__.py")).and_then(|h| imports(&h)) {
            Some(m) => Operand::Manager(m),
            None => Operand::Unknown,
        };
    }
    // A pipe or device (`python3 <(…)`) holds a script, never an archive
    // (zipimport needs to seek).
    if !meta.is_file() {
        return Operand::Script;
    }
    let Some(h) = head(path) else {
        return Operand::Script;
    };
    if is_archive(path, &h) {
        return Operand::Unknown;
    }
    match imports(&h) {
        Some(m) => Operand::Manager(m),
        None => Operand::Script,
    }
}

/// The manager a path names: a directory of that name; `__main__.py` (or
/// any `__*__.py`) in one; a file named like its command (`pip3`, `pipx`,
/// `pip.pyz`, `get-pip.py`); anything below `site-packages/<manager>`.
fn named(path: &Path, is_dir: bool) -> Option<PyManager> {
    let name = path.file_name()?.to_string_lossy();
    if is_dir {
        return PyManager::from_package(&name);
    }
    let stem = [".py", ".pyc", ".pyz", ".pyzw"]
        .iter()
        .find_map(|e| name.strip_suffix(e))
        .unwrap_or(&name);
    if stem == "get-pip" {
        return Some(PyManager::GetPip);
    }
    if stem.starts_with("__") && stem.ends_with("__") {
        let parent = path.parent()?.file_name()?.to_string_lossy();
        if let Some(m) = PyManager::from_package(&parent) {
            return Some(m);
        }
    }
    let by_command = match Tool::from_command(stem) {
        Some(Tool::Pip | Tool::Pip3) => Some(PyManager::Pip),
        Some(t) => PyManager::from_package(t.name()),
        None => None,
    };
    if by_command.is_some() {
        return by_command;
    }
    let mut parts = path.components().map(|c| c.as_os_str().to_string_lossy());
    while let Some(p) = parts.next() {
        if p == "site-packages" || p == "dist-packages" {
            return parts.next().and_then(|top| PyManager::from_package(&top));
        }
    }
    None
}

/// The first [`HEAD`] bytes of a file, if it can be read.
fn head(path: &Path) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::with_capacity(HEAD);
    f.take(HEAD as u64).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// True for a zip archive (a zipapp, with or without a `#!` line before it)
/// or any file that is not text (compiled code): Python runs what is inside.
fn is_archive(path: &Path, head: &[u8]) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    if matches!(ext.as_deref(), Some("pyz" | "pyzw" | "zip" | "whl" | "egg")) {
        return true;
    }
    if head.windows(4).any(|w| w == b"PK\x03\x04") {
        return true;
    }
    // A character cut at the end of the head is still text.
    std::str::from_utf8(head).is_err_and(|e| e.error_len().is_some())
}

/// The manager that Python source `code` imports at the start of a line or
/// statement (`from pip._internal.cli.main import main`, `import sys, pip`).
pub fn imports(code: &[u8]) -> Option<PyManager> {
    let text = String::from_utf8_lossy(code);
    text.split(['\n', ';']).find_map(|stmt| {
        let s = stmt.trim_start();
        let names = s
            .strip_prefix("from ")
            .map(|r| r.split_whitespace().next().unwrap_or(""))
            .or_else(|| s.strip_prefix("import "))?;
        names.split(',').find_map(|n| {
            let n = n.trim();
            let end = n
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(n.len());
            PyManager::from_package(&n[..end])
        })
    })
}

/// `python -m <m> <args>` for a manager with a grammar outside pip's
/// (pipx, uv, poetry, conda, mamba): an install of the interpreter's tool,
/// so the full binary sandboxes it as a `python` call. `None` for pip's own.
pub fn classify_other(m: PyManager, args: &[String]) -> Option<Classified> {
    let tool = m.tool()?;
    Some(match super::classify(tool, args) {
        Classified::Install(req) => Classified::Install(super::InstallRequest {
            tool: Tool::Python,
            command: format!("-m {} {}", m.name(), req.command),
            packages: req.packages,
            // `--python` names the tool's interpreter there, not the one
            // pip's plan (the interpreter's own) would probe.
            options: req
                .options
                .into_iter()
                .filter(|o: &Opt| o.name != "python")
                .collect(),
        }),
        pass => pass,
    })
}

/// The managers whose grammars judge an operand nothing can read.
pub const ANY: [PyManager; 5] = [
    PyManager::Pip,
    PyManager::Pipx,
    PyManager::Uv,
    PyManager::Poetry,
    PyManager::Conda,
];

/// True for an install that runs a program rather than installing one
/// (`uv run`, `pipx run`): a shape too common among other tools' command
/// lines (`python app.pyz run`) to count for an unknown operand.
pub fn runs_a_program(req: &super::InstallRequest) -> bool {
    let c = req.command.as_str();
    c.ends_with(" run") || c.ends_with(" tool run")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn modules_of_a_managers_package_are_that_manager() {
        for (m, want) in [
            ("pip", Some(PyManager::Pip)),
            ("pip.__pip-runner__", Some(PyManager::Pip)),
            ("pip._internal.cli.main", Some(PyManager::Pip)),
            ("pipx", Some(PyManager::Pipx)),
            ("pipx.__main__", Some(PyManager::Pipx)),
            ("uv", Some(PyManager::Uv)),
            ("poetry", Some(PyManager::Poetry)),
            ("conda", Some(PyManager::Conda)),
            ("ensurepip", Some(PyManager::Ensurepip)),
            ("pytest", None),
            ("venv", None),
            ("pipenv", None),
            ("uvicorn", None),
            ("http.server", None),
            ("", None),
        ] {
            assert_eq!(module_manager(m), want, "{m}");
        }
    }

    #[test]
    fn imports_are_read_from_statements() {
        for (code, want) in [
            (
                "from pip._internal.cli.main import main\n",
                Some(PyManager::Pip),
            ),
            (
                "if __name__ == '__main__':\n    from pip._internal.cli.main import main as _main\n",
                Some(PyManager::Pip),
            ),
            ("import sys, pipx.main\n", Some(PyManager::Pipx)),
            (
                "import os; from conda.cli import main",
                Some(PyManager::Conda),
            ),
            (
                "from poetry.console.application import main",
                Some(PyManager::Poetry),
            ),
            ("import pipeline\nfrom pipes import x\n", None),
            ("print('from pip import x')\n", None),
            ("# import pip\nimport json\n", None),
        ] {
            assert_eq!(imports(code.as_bytes()), want, "{code:?}");
        }
    }

    #[test]
    fn operands_are_judged_by_name_place_and_imports() {
        let d = tempfile::tempdir().unwrap();
        let at = |p: &str| d.path().join(p).display().to_string();
        let write = |p: &str, b: &[u8]| {
            let f = d.path().join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, b).unwrap();
        };
        write("lib/site-packages/pip/__main__.py", b"import sys\n");
        write("lib/site-packages/pip/__pip-runner__.py", b"import sys\n");
        write("lib/site-packages/pipx/__main__.py", b"import sys\n");
        write("bin/pip3.11", b"#!/v/bin/python\nimport re\nimport sys\n");
        write(
            "bin/tool",
            b"#!/v/bin/python\nfrom pip._internal.cli.main import main\n",
        );
        write(
            "bin/mytool",
            b"#!/usr/bin/env python3\nimport sys\nprint(1)\n",
        );
        write("script.py", b"import json\nprint(1)\n");
        write("get-pip.py", b"import sys\n");
        write("app/__main__.py", b"from app.cli import main\nmain()\n");
        write("wrap/__main__.py", b"import runpy\nfrom pip import main\n");
        write(
            "tools.bin",
            b"#!/usr/bin/env python3\nPK\x03\x04\x14\x00\x00\x00",
        );
        write("pip.pyz", b"PK\x03\x04");
        write("blob", &[0x80, 0x81, 0x82, 0x00]);
        let cases = [
            ("lib/site-packages/pip", Operand::Manager(PyManager::Pip)),
            ("lib/site-packages/pip/", Operand::Manager(PyManager::Pip)),
            (
                "lib/site-packages/pip/__main__.py",
                Operand::Manager(PyManager::Pip),
            ),
            (
                "lib/site-packages/pip/__pip-runner__.py",
                Operand::Manager(PyManager::Pip),
            ),
            ("lib/site-packages/pipx", Operand::Manager(PyManager::Pipx)),
            ("bin/pip3.11", Operand::Manager(PyManager::Pip)),
            ("bin/tool", Operand::Manager(PyManager::Pip)),
            ("get-pip.py", Operand::Manager(PyManager::GetPip)),
            ("wrap", Operand::Manager(PyManager::Pip)),
            ("pip.pyz", Operand::Manager(PyManager::Pip)),
            ("app", Operand::Unknown),
            ("tools.bin", Operand::Unknown),
            ("blob", Operand::Unknown),
            ("bin/mytool", Operand::Script),
            ("script.py", Operand::Script),
            ("missing.py", Operand::Script),
        ];
        for (p, want) in cases {
            assert_eq!(operand(&at(p)), want, "{p}");
        }
        // A link to pip's directory is pip's directory.
        std::os::unix::fs::symlink(d.path().join("lib/site-packages/pip"), d.path().join("p"))
            .unwrap();
        assert_eq!(operand(&at("p")), Operand::Manager(PyManager::Pip));
    }
}
