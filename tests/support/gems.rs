//! RubyGems helpers: the real `gem`, fixture gems built with it, and a
//! monitored `gem install --local`.

use super::installs::{Installed, install};
use super::{ShimEnv, assert_success, fixtures_root, run};
use std::path::{Path, PathBuf};

/// The real `gem` on the test's own PATH (the ShimEnv's PATH starts with
/// the shims).
pub fn real_gem() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("gem"))
        .find(|g| g.is_file())
        .expect("no `gem` on PATH: .ci/run installs ruby, which brings it")
}

/// Builds the fixture gem `name` (tests/fixtures/gem/NAME) with the real
/// `gem build` in `work`; the path of the `.gem`.
pub fn build_gem(env: &ShimEnv, work: &Path, name: &str) -> PathBuf {
    let src = work.join(name);
    let copy = run(std::process::Command::new("cp")
        .arg("-r")
        .arg(fixtures_root().join("gem").join(name))
        .arg(&src));
    assert_success(&copy, "copy the gem fixture");
    let built = run(env
        .bare(real_gem())
        .args(["build", &format!("{name}.gemspec")])
        .current_dir(&src));
    assert_success(
        &built,
        "gem build (RubyGems comes with ruby, which .ci/run installs)",
    );
    src.join(format!("{name}-1.0.0.gem"))
}

/// `gem install --local FILE` into the gem home `gems`, monitored in `mode`.
pub fn gem_install(env: &ShimEnv, mode: &str, gems: &Path, file: &Path) -> Installed {
    install(
        env,
        mode,
        &[
            "gem",
            "install",
            "--local",
            "--no-document",
            file.to_str().expect("a UTF-8 test path"),
        ],
        env.home.path(),
        &[("GEM_HOME", gems.display().to_string())],
    )
}
