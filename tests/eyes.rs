//! Helper `eyes`: an attacker who read `src/` against the latest fixes
//! (byte-exact paths, the process-listing split, the policy-file guard,
//! `core.hooksPath` from git config, `intel_allow_unchecked`). Each test is
//! one attempt with an inert fixture (a stand-in `gem` running a Python
//! hook; markers in the test's HOME; no network). The tests marked
//! `ignore = "bypass: …"` fail on the binary they were written against:
//! each is a bypass, named in its doc line with the code that lets it
//! through.

use crate::support;

use serde_json::Value;
use std::fs;
use support::*;

const BLOCKED: i32 = 90;

/// Findings of `rule` in `report`.
fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

const EMPTY_STARTUP: &str = "[startup_paths]\nlinux = []\nmacos = []\n";

/// Class: policy layers. A project file "may only make the policy
/// stricter" (`src/policy.rs` header), but `Merger::apply_project` passes
/// `startup_paths` through: a `.pkgwarden.toml` that empties it drops the
/// protect-mode landlock refusal of `~/.bashrc` and every other home
/// persistence place (`sandbox::fs_spec`, `writable_tree` keep list),
/// so the write lands (reported, `observed`). The same function lets a
/// project replace `endpoints.deny` (dropping `raw-ip` and
/// `exfil-service`), and set `unsigned_binary_alerting = false`,
/// `executable_entropy_threshold = 8`, `time_window = "0s"`, silently.
#[test]
fn a_project_file_cannot_drop_the_persistence_places() {
    let (env, _bin) = python_hook(
        r##"
import os
try:
    with open(os.environ["HOME"] + "/.bashrc", "a") as f:
        f.write("echo EYES-PWNED\n")
    print("bashrc written")
except OSError as e:
    print("bashrc refused", e.errno)
"##,
    );
    let work = env.home.path().join("work");
    fs::write(work.join(".pkgwarden.toml"), EMPTY_STARTUP).unwrap();
    let (code, text, report) = gem_install(&env, "protect", &work, &[]);
    let rc = fs::read_to_string(env.home.path().join(".bashrc")).unwrap();
    assert_eq!(rc, "# rc\n", "{text}");
    assert!(text.contains("bashrc refused 13"), "{text}");
    assert_eq!(code, 0, "{text}");
    assert!(!findings(&report, "persist.shell-rc").is_empty(), "{text}");
}

/// Class: policy layers (the keys `apply_project` lets a project weaken),
/// read back with `pkgwarden policy show`: the deny classes survive, the
/// persistence places stay, alerting stays on.
#[test]
fn a_project_file_cannot_weaken_other_keys() {
    let env = ShimEnv::new(&[]);
    let work = env.home.subdir("work");
    fs::write(
        work.join(".pkgwarden.toml"),
        format!(
            "unsigned_binary_alerting = false\nexecutable_entropy_threshold = 8.0\ntime_window = \"0s\"\n{EMPTY_STARTUP}[endpoints]\ndeny = [\"metadata\"]\n"
        ),
    )
    .unwrap();
    let out = run(env.pkgwarden().current_dir(&work).args(["policy", "show"]));
    let text = stdout_str(&out);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key}: {text}"))
            .to_string()
    };
    assert!(line("endpoints.deny").contains("raw-ip"), "{text}");
    assert!(line("endpoints.deny").contains("exfil-service"), "{text}");
    assert!(line("startup_paths").contains("~/.bashrc"), "{text}");
    assert!(line("unsigned_binary_alerting").contains("true"), "{text}");
    assert!(line("time_window").contains("5m"), "{text}");
}

/// Class: pkgwarden's own state / policy files. `sandbox::own_paths`
/// protects the project file that exists ("a new one changes nothing an
/// attacker wants"), but protect's writable HOME lets an install create a
/// `.pkgwarden.toml` in ANOTHER project under HOME: a clean report, and the
/// next install there reads it (with the previous test, `~/.bashrc` is then
/// written). It also shadows a stricter file higher up (only the nearest
/// one is read: `policy::find_project_file`), and it removes another
/// project's existing `mode = "block"` file the same way (only the file of
/// the project being installed is protected).
#[test]
fn an_install_cannot_plant_a_policy_file_for_another_project() {
    let (env, _bin) = python_hook(&format!(
        r##"
import os
h = os.environ["HOME"]
if os.getcwd() == h + "/work":
    try:
        with open(h + "/other/.pkgwarden.toml", "w") as f:
            f.write({EMPTY_STARTUP:?})
        print("policy planted")
    except OSError as e:
        print("plant refused", e.errno)
    try:
        os.unlink(h + "/strict/.pkgwarden.toml")
        print("strict policy removed")
    except OSError as e:
        print("removal refused", e.errno)
else:
    try:
        with open(h + "/.bashrc", "a") as f:
            f.write("echo EYES-PWNED\n")
        print("bashrc written")
    except OSError as e:
        print("bashrc refused", e.errno)
"##
    ));
    let work = env.home.path().join("work");
    let other = env.home.subdir("other");
    let planted = other.join(".pkgwarden.toml");
    // Another project whose own file raises its installs to block.
    let strict = env.home.subdir("strict").join(".pkgwarden.toml");
    fs::write(&strict, "mode = \"block\"\n").unwrap();
    let (_, text, report) = gem_install(&env, "protect", &work, &[]);
    assert!(strict.exists(), "another project's policy removed: {text}");
    let named = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info" && f["severity"] != "low")
        .any(|f| f.to_string().contains("other/.pkgwarden.toml"));
    assert!(!planted.exists() || named, "planted, unreported: {text}");
    let (_, text, _) = gem_install(&env, "protect", &other, &[]);
    let rc = fs::read_to_string(env.home.path().join(".bashrc")).unwrap();
    assert_eq!(rc, "# rc\n", "{text}");
}

/// Class: git hooks. git takes `core.hooksPath` from `GIT_CONFIG_COUNT` /
/// `GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n` and `GIT_CONFIG_PARAMETERS`
/// too (CI systems and dev containers set them; `git -c` passes the
/// latter to the git it runs), but `sandbox::gitconfig::user_hooks_paths` reads
/// only files: the directory stays in protect's writable HOME, unclassified
/// and out of the snapshot, so a `pre-commit` planted there is written with
/// no finding and runs at the user's next commit.
#[test]
fn a_hooks_path_from_git_config_variables_is_persistence() {
    let (env, _bin) = python_hook(
        r##"
import os
d = os.environ["HOME"] + "/githooks"
try:
    fd = os.open(d + "/pre-commit", os.O_CREAT | os.O_WRONLY, 0o755)
    os.write(fd, b"#!/bin/sh\necho EYES-HOOK\n")
    os.close(fd)
    print("hook written")
except OSError as e:
    print("hook refused", e.errno)
"##,
    );
    let hooks = env.home.subdir("githooks");
    let work = env.home.path().join("work");
    let value = hooks.to_string_lossy().into_owned();
    let counted = [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "core.hooksPath"),
        ("GIT_CONFIG_VALUE_0", value.as_str()),
    ];
    // What `git -c core.hooksPath=…` passes to the git it runs.
    let param = format!("'core.hooksPath'='{value}'");
    let params = [("GIT_CONFIG_PARAMETERS", param.as_str())];
    for (mode, vars) in [
        ("block", &counted[..]),
        ("protect", &counted[..]),
        ("protect", &params[..]),
    ] {
        let _ = fs::remove_file(hooks.join("pre-commit"));
        let (code, text, report) = gem_install(&env, mode, &work, vars);
        let written = hooks.join("pre-commit").exists();
        let reported = findings(&report, "persist.git")
            .iter()
            .any(|f| f.to_string().contains("githooks"));
        assert!(!written, "{text}");
        // Block refuses it anyway (not a write root); protect must name it.
        if mode == "protect" {
            assert!(reported, "{text}");
            assert_eq!(code, 0, "{text}");
        }
    }
}

/// Variation (helper `pol`) of the project-file class, on the keys the
/// fix was not written against: over a user policy that watches longer
/// and shims new virtualenvs, a project file that shortens the window (still
/// longer than the built-in one) and turns the shims off is ignored, with
/// one warning line per key naming the file; a nested project file under a
/// monorepo's `mode = "block"` cannot lower the mode (both are read).
#[test]
fn a_project_file_cannot_undo_the_users_tighter_keys_nor_a_parents_mode() {
    let env = ShimEnv::new(&[]);
    let user = env.home.config_dir().join("pkgwarden");
    fs::create_dir_all(&user).unwrap();
    fs::write(
        user.join("policy.toml"),
        "time_window = \"20m\"\nshim_new_venvs = true\n",
    )
    .unwrap();
    let mono = env.home.subdir("mono");
    fs::write(mono.join(".pkgwarden.toml"), "mode = \"block\"\n").unwrap();
    let pkg = env.home.subdir("mono/pkg");
    let file = pkg.join(".pkgwarden.toml");
    fs::write(
        &file,
        "mode = \"protect\"\ntime_window = \"6m\"\nshim_new_venvs = false\n[endpoints]\ndeny = [\"raw-ip\"]\n",
    )
    .unwrap();
    let out = run(env.pkgwarden().current_dir(&pkg).args(["policy", "show"]));
    let text = stdout_str(&out);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key}: {text}"))
            .to_string()
    };
    assert!(line("mode").contains("block"), "{text}");
    assert!(line("time_window").contains("20m"), "{text}");
    assert!(line("shim_new_venvs").contains("true"), "{text}");
    assert!(line("endpoints.deny").contains("metadata"), "{text}");
    let shown = file.display().to_string();
    for key in ["mode", "time_window", "shim_new_venvs", "endpoints.deny"] {
        let warned = text
            .lines()
            .filter(|l| l.starts_with("# warning:") && l.contains(&shown))
            .filter(|l| l.contains(&format!("`{key}")))
            .count();
        assert_eq!(warned, 1, "{key}: {text}");
    }
}

/// Variation (helper `pol`) of the planted-policy class, on moves the fix
/// was not written against: renaming another project's policy file away,
/// planting one as a symbolic link (to a file the install wrote), and
/// moving a whole project directory that holds one away (then making a
/// fresh one in its place). Each is refused and reported.
#[test]
fn an_install_cannot_move_link_or_carry_away_a_policy_file() {
    let (env, _bin) = python_hook(
        r##"
import os
h = os.environ["HOME"]
def attempt(what, f):
    try:
        f()
        print(what, "done")
    except OSError as e:
        print(what, "refused", e.errno)
attempt("rename", lambda: os.rename(h + "/strict/.pkgwarden.toml", h + "/strict/old.toml"))
with open(h + "/other/weak.toml", "w") as f:
    f.write("[startup_paths]\nlinux = []\nmacos = []\n")
attempt("symlink", lambda: os.symlink(h + "/other/weak.toml", h + "/other/.pkgwarden.toml"))
def carry():
    os.rename(h + "/strict2", h + "/gone")
    os.mkdir(h + "/strict2")
attempt("carry", carry)
"##,
    );
    let work = env.home.path().join("work");
    let other = env.home.subdir("other");
    let strict = env.home.subdir("strict").join(".pkgwarden.toml");
    let strict2 = env.home.subdir("strict2").join(".pkgwarden.toml");
    for f in [&strict, &strict2] {
        fs::write(f, "mode = \"block\"\n").unwrap();
    }
    let (code, text, report) = gem_install(&env, "protect", &work, &[]);
    for what in ["rename", "symlink", "carry"] {
        assert!(
            text.contains(&format!("{what} refused 1")),
            "{what}: {text}"
        );
    }
    assert!(strict.is_file() && strict2.is_file(), "{text}");
    assert!(
        fs::symlink_metadata(other.join(".pkgwarden.toml")).is_err(),
        "{text}"
    );
    let tampered = findings(&report, "tamper.pkgwarden");
    assert!(
        tampered
            .iter()
            .all(|f| f["severity"] == "high" && f["action"] == "blocked"),
        "{text}"
    );
    for path in [
        "strict/.pkgwarden.toml",
        "other/.pkgwarden.toml",
        "/strict2",
    ] {
        assert!(
            tampered.iter().any(|f| f.to_string().contains(path)),
            "{path}: {text}"
        );
    }
    assert_eq!(code, 0, "{text}");
}

/// Variation (helper `pol`) of the git-variables class, on spellings the
/// fix was not written against: the old `'key=value'` form of
/// `GIT_CONFIG_PARAMETERS` with a lower-case key among other entries, a
/// `~/` value, and the hooks path as the second of two counted pairs in
/// upper case (git's section and key names ignore case).
#[test]
fn a_hooks_path_in_other_spellings_of_git_config_variables_is_persistence() {
    let (env, _bin) = python_hook(
        r##"
import os
d = os.environ["HOME"] + "/githooks"
try:
    with open(d + "/post-checkout", "w") as f:
        f.write("#!/bin/sh\necho EYES-HOOK\n")
    print("hook written")
except OSError as e:
    print("hook refused", e.errno)
"##,
    );
    let hooks = env.home.subdir("githooks");
    let work = env.home.path().join("work");
    let value = hooks.to_string_lossy().into_owned();
    let old = format!("'user.name=x' 'core.hookspath={value}' 'color.ui'");
    let counted = [
        ("GIT_CONFIG_COUNT", "2"),
        ("GIT_CONFIG_KEY_0", "user.email"),
        ("GIT_CONFIG_VALUE_0", "a@b"),
        ("GIT_CONFIG_KEY_1", "CORE.HOOKSPATH"),
        ("GIT_CONFIG_VALUE_1", "~/githooks"),
    ];
    for vars in [&[("GIT_CONFIG_PARAMETERS", old.as_str())][..], &counted[..]] {
        let _ = fs::remove_file(hooks.join("post-checkout"));
        let (code, text, report) = gem_install(&env, "protect", &work, vars);
        assert!(!hooks.join("post-checkout").exists(), "{text}");
        assert!(text.contains("hook refused 13"), "{text}");
        let reported = findings(&report, "persist.git")
            .iter()
            .any(|f| f.to_string().contains("githooks"));
        assert!(reported, "{text}");
        assert_eq!(code, 0, "{text}");
    }
}

/// Hook code that makes a working directory whose absolute path is longer
/// than `PATH_MAX` (inside the private TMPDIR), and stays in it.
const DEEP_CWD: &str = r##"
import os
os.chdir(os.environ["TMPDIR"])
for _ in range(22):
    os.mkdir("d" * 200)
    os.chdir("d" * 200)
"##;

/// Class: `/proc` of processes outside the sandbox. The supervisor refuses
/// `/proc/<pid>/cmdline` of an outside process (a command line can hold a
/// token), but it judges the path it resolves, and `notify::resolve_path`
/// gives up (`None`: the path as given) when `readlink(/proc/<pid>/cwd)`
/// fails with ENAMETOOLONG; `other_procs` then sees `c`, and its
/// `canonicalize` fallback fails the same way. A symlink `c` to the
/// outside process's `cmdline`, opened from a working directory deeper than
/// `PATH_MAX`, reads it: no refusal, no event, no finding (the same open
/// by its own name is refused, high).
#[test]
fn a_deep_working_directory_does_not_hide_another_process_command_line() {
    let mut outside = std::process::Command::new(python3())
        .args(["-c", "import time; time.sleep(120)", "EYES-ARGV-SECRET"])
        .spawn()
        .unwrap();
    let (env, _bin) = python_hook(&format!(
        r##"{DEEP_CWD}
pid = int(os.environ["EYES_PID"])
os.symlink("/proc/%d/cmdline" % pid, "c")
try:
    print("read:", open("c", "rb").read())
except OSError as e:
    print("refused", e.errno)
"##
    ));
    let work = env.home.path().join("work");
    let pid = outside.id().to_string();
    for mode in ["block", "protect"] {
        let (_, text, report) = gem_install(&env, mode, &work, &[("EYES_PID", pid.as_str())]);
        assert!(!text.contains("EYES-ARGV-SECRET"), "{text}");
        assert!(!findings(&report, "cred.read").is_empty(), "{text}");
    }
    let _ = outside.kill();
    let _ = outside.wait();
}

/// Class: transient (fileless) execution. Block refuses an exec of a
/// memfd (`exec_call`, `is_anonymous_exec`), but from a working directory
/// deeper than `PATH_MAX` a symlink `f` to `/proc/self/fd/N` is resolved by
/// nobody: `resolve_path` returns `f`, `Path::new("f").exists()` is false
/// in the supervisor's own cwd, and the exec is taken for a PATH search
/// miss (`cont()`, no event). The memfd's code runs in block with a clean
/// report and exit 0.
#[test]
fn a_deep_working_directory_does_not_hide_fileless_execution() {
    let (env, _bin) = python_hook(&format!(
        r##"{DEEP_CWD}
m = os.memfd_create("x", 0)
os.write(m, b"#!/bin/sh\necho EYES-FILELESS-RAN\n")
os.symlink("/proc/self/fd/%d" % m, "f")
pid = os.fork()
if pid == 0:
    try:
        os.execv("./f", ["x"])
    except OSError as e:
        os._exit(e.errno)
_, st = os.waitpid(pid, 0)
print("exec status", os.waitstatus_to_exitcode(st))
"##
    ));
    let work = env.home.path().join("work");
    for mode in ["block", "protect"] {
        let (code, text, report) = gem_install(&env, mode, &work, &[]);
        assert!(!findings(&report, "exec.dropped").is_empty(), "{text}");
        if mode == "block" {
            assert!(!text.contains("EYES-FILELESS-RAN"), "{text}");
            assert_eq!(code, BLOCKED, "{text}");
        }
    }
}

/// A C program (the stand-in runs it): a task of the same thread group
/// (`CLONE_THREAD`) made without `CLONE_FILES`, so with a descriptor table
/// of its own, puts `/bin/true` at the number where the leader holds a
/// memfd with `/bin/echo` in it, and execs `/proc/self/fd/N`.
const THREAD_EXEC_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
static int m;
static char path[64];
static int task(void *arg) {
    (void)arg;
    int fd = syscall(SYS_openat, AT_FDCWD, "/bin/true", O_RDONLY);
    syscall(SYS_dup3, fd, m, 0);
    char *argv[] = {"echo", "EYES-THREAD-FILELESS-RAN", NULL};
    char *envp[] = {NULL};
    syscall(SYS_execve, path, argv, envp);
    syscall(SYS_exit, 1);
    return 0;
}
int main(void) {
    m = memfd_create("x", 0);
    int e = open("/bin/echo", O_RDONLY);
    struct stat st;
    fstat(e, &st);
    sendfile(m, e, NULL, st.st_size);
    snprintf(path, sizeof path, "/proc/self/fd/%d", m);
    char *stack = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    clone(task, stack + (1 << 16),
          CLONE_VM | CLONE_FS | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, NULL);
    sleep(3);
    puts("the exec failed");
    return 0;
}
"#;

/// Class: transient (fileless) execution, by thread. `notify::resolve_abs`
/// maps `/proc/self` to `/proc/<pid>` with the pid of the notification,
/// which is the calling thread's id; the kernel maps it to the thread
/// group's leader. A task of the group with its own descriptor table
/// execs `/proc/self/fd/N`: the supervisor reads its own N (`/bin/true`,
/// not written, not anonymous), the kernel runs the leader's N (a memfd).
/// Block lets it run, clean report, exit 0.
#[test]
fn a_thread_with_its_own_descriptors_does_not_hide_fileless_execution() {
    let cc = which::which("cc").expect("a C compiler (cc) for the fixture");
    let (env, bin) = python_hook(
        r#"
import os, subprocess
subprocess.run([os.path.dirname(os.path.abspath(__file__)) + "/thr"])
"#,
    );
    let src = bin.path().join("thr.c");
    fs::write(&src, THREAD_EXEC_C).unwrap();
    let out = run(std::process::Command::new(cc)
        .arg("-o")
        .arg(bin.path().join("thr"))
        .arg(&src));
    assert_success(&out, "cc thr.c");
    let work = env.home.path().join("work");
    for mode in ["block", "protect"] {
        let (code, text, report) = gem_install(&env, mode, &work, &[]);
        assert!(!findings(&report, "exec.dropped").is_empty(), "{text}");
        if mode == "block" {
            assert!(!text.contains("EYES-THREAD-FILELESS-RAN"), "{text}");
            assert_eq!(code, BLOCKED, "{text}");
        }
    }
}

/// A C program: a second thread rewrites the path of a call between the
/// supervisor's read of it and the kernel's (after CONTINUE). `exec`: an
/// execve of `/usr/bin/true` becomes one of `/proc/self/fd/N` (a memfd
/// holding `/bin/echo`); `open PID`: an open of `/etc/hostname` becomes
/// one of `/proc/PID/cmdline`.
const RACE_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
/* The path a call names is read twice: by the supervisor (to judge) and by
   the kernel after the supervisor says continue. A second thread rewrites
   it in between. */
static char buf[64] __attribute__((aligned(64)));
static void put(const char *s) { for (int i = 0; i < 64; i++) ((volatile char *)buf)[i] = s[i]; }
static char good[64], bad[64];
static atomic_int go;
static long delay;
static void *flip(void *a) {
    (void)a;
    while (!atomic_load(&go)) {}
    for (volatile long i = 0; i < delay; i++) {}
    put(bad);
    return NULL;
}
static int exec_race(int m) {
    snprintf(good, sizeof good, "/usr/bin/true");
    snprintf(bad, sizeof bad, "/proc/self/fd/%d", m);
    memcpy(buf, good, sizeof buf);
    pthread_t t;
    pthread_create(&t, NULL, flip, NULL);
    char *argv[] = {"echo", "EYES-RACE-EXEC-WON", NULL};
    char *envp[] = {NULL};
    atomic_store(&go, 1);
    execve(buf, argv, envp);
    return 1;
}
static void *flip_loop(void *a) {
    (void)a;
    for (;;) {
        put(good);
        for (volatile long i = 0; i < delay; i++) {}
        put(bad);
        for (volatile long i = 0; i < delay; i++) {}
    }
    return NULL;
}
int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "open") == 0) {
        snprintf(good, sizeof good, "/etc/hostname");
        snprintf(bad, sizeof bad, "/proc/%s/cmdline", argv[2]);
        delay = argc > 3 ? atol(argv[3]) : 2000;
        memcpy(buf, good, sizeof buf);
        pthread_t t;
        pthread_create(&t, NULL, flip_loop, NULL);
        usleep(10000);

        int okc = 0, errs[200] = {0};
        for (int i = 0; i < 20000; i++) {
            int fd = open(buf, O_RDONLY);
            if (fd < 0) { errs[errno < 200 ? errno : 0]++; continue; }
            okc++;
            char out[256] = {0};
            int n = read(fd, out, sizeof out - 1);
            close(fd);
            for (int j = 0; j < n; j++) if (!out[j]) out[j] = ' ';
            if (strstr(out, "SECRET")) { printf("open race won after %d: %s\n", i, out); return 0; }
        }
        printf("open race lost: %d opened, EPERM %d, EACCES %d, ENOENT %d\n", okc, errs[1], errs[13], errs[2]);
        return 1;
    }
    int e = open("/bin/echo", O_RDONLY);
    struct stat st; fstat(e, &st);
    int wins = 0, tries = 0;
    for (delay = 0; delay < 200000 && !wins; delay = delay ? delay * 2 : 100) {
        for (int k = 0; k < 10 && !wins; k++) {
            int m = memfd_create("x", 0);
            off_t off = 0; sendfile(m, e, &off, st.st_size);
            int p[2]; pipe(p);
            pid_t pid = fork();
            if (pid == 0) { dup2(p[1], 1); exec_race(m); _exit(1); }
            close(p[1]); close(m);
            char out[128] = {0}; read(p[0], out, sizeof out - 1); close(p[0]);
            waitpid(pid, NULL, 0); tries++;
            if (strstr(out, "EYES-RACE-EXEC-WON")) { wins++; printf("exec race won at delay %ld after %d tries\n", delay, tries); }
        }
    }
    if (!wins) printf("exec race lost after %d tries\n", tries);
    return 0;
}
"#;

/// Compiles [`RACE_C`] next to a hook that runs it with `args`.
fn race_hook(args: &str) -> (ShimEnv, tempfile::TempDir) {
    let cc = which::which("cc").expect("a C compiler (cc) for the fixture");
    let (env, bin) = python_hook(&format!(
        r#"
import os, subprocess
race = os.path.dirname(os.path.abspath(__file__)) + "/race"
print(subprocess.run([race{args}], capture_output=True, text=True).stdout)
"#
    ));
    let src = bin.path().join("race.c");
    fs::write(&src, RACE_C).unwrap();
    let out = run(std::process::Command::new(cc)
        .args(["-O1", "-pthread", "-o"])
        .arg(bin.path().join("race"))
        .arg(&src));
    assert_success(&out, "cc race.c");
    (env, bin)
}

/// Class: decisions on memory the process can change (DESIGN principle 1).
/// `exec_call` refuses a memfd in block from the path it read, then the
/// kernel reads the path again after CONTINUE: a thread flipping
/// `/usr/bin/true` to `/proc/self/fd/N` won within a few tries (the memfd
/// ran in block, clean report, exit 0). Block now refuses an executable
/// memfd in the seccomp filter (`memfd_create` without `MFD_NOEXEC_SEAL`,
/// from the registers), so there is nothing fileless to run.
#[test]
fn a_path_rewritten_after_the_supervisor_read_it_is_not_what_runs() {
    let (env, _bin) = race_hook("");
    let work = env.home.path().join("work");
    let (code, text, report) = gem_install(&env, "block", &work, &[]);
    assert!(!text.contains("exec race won"), "{text}");
    assert!(!findings(&report, "exec.dropped").is_empty(), "{text}");
    assert_eq!(code, BLOCKED, "{text}");
}

/// The same race on an open: `/etc/hostname` flipped to
/// `/proc/<outside>/cmdline`. `cmdline`, `stat` and `status` are
/// world-readable without `hidepid` and landlock's ptrace scope does not
/// cover them; landlock now grants nothing on procfs and the supervisor
/// opens procfs files itself (`monitor::procopen`), so the flipped path
/// meets the kernel's refusal.
#[test]
fn a_path_rewritten_after_the_supervisor_read_it_does_not_read_another_command_line() {
    let mut outside = std::process::Command::new(python3())
        .args(["-c", "import time; time.sleep(120)", "SECRET-EYES-RACE"])
        .spawn()
        .unwrap();
    let (env, _bin) = race_hook(", \"open\", os.environ[\"EYES_PID\"]");
    let work = env.home.path().join("work");
    let pid = outside.id().to_string();
    let (_, text, _) = gem_install(&env, "block", &work, &[("EYES_PID", pid.as_str())]);
    let _ = outside.kill();
    let _ = outside.wait();
    assert!(!text.contains("SECRET-EYES-RACE"), "{text}");
}

/// Variation (helper `exec6`): the memfd block still allows is sealed
/// against execution (`MFD_NOEXEC_SEAL`), and the ways to run it anyway
/// fail in the kernel: a chmod to 0755 (the seal), an exec through
/// `/proc/self/fd/N` (no execute bit), `fexecve` (execveat with
/// `AT_EMPTY_PATH`, refused in the filter in block; glibc then tries
/// `/proc/self/fd/N`). Nothing runs, in block and in protect.
#[test]
fn a_sealed_memfd_cannot_be_made_to_run() {
    let (env, _bin) = python_hook(
        r##"
import os
m = os.memfd_create("x", 8)  # MFD_NOEXEC_SEAL
os.write(m, b"#!/bin/sh\necho EYES-SEALED-RAN\n")
try:
    os.fchmod(m, 0o755)
    print("chmod done")
except OSError as e:
    print("chmod refused", e.errno)
for how in ("path", "fd"):
    pid = os.fork()
    if pid == 0:
        try:
            if how == "path":
                os.execv("/proc/self/fd/%d" % m, ["x"])
            else:
                os.execve(m, ["x"], {})
        except OSError as e:
            os._exit(e.errno)
    _, st = os.waitpid(pid, 0)
    print(how, "exec status", os.waitstatus_to_exitcode(st))
"##,
    );
    let work = env.home.path().join("work");
    for mode in ["block", "protect"] {
        let (_, text, _) = gem_install(&env, mode, &work, &[]);
        assert!(!text.contains("EYES-SEALED-RAN"), "{text}");
        assert!(text.contains("fd exec status"), "{text}");
    }
}
