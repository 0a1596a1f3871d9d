//! A small typed builder for seccomp BPF programs.
//!
//! seccompiler cannot emit `SECCOMP_RET_USER_NOTIF`, so the notify filter is
//! assembled here; no raw `sock_filter` literal appears anywhere else. A
//! program is a value: built once before `fork`, installed by a single
//! `seccomp(2)` call in the child.

use std::collections::BTreeMap;

/// What the filter answers for a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Let the kernel run it.
    Allow,
    /// Ask the supervisor (`SECCOMP_RET_USER_NOTIF`).
    Notify,
    /// Fail with this errno, in the kernel.
    Errno(u16),
}

impl Action {
    fn ret(self) -> u32 {
        match self {
            Action::Allow => SECCOMP_RET_ALLOW,
            Action::Notify => SECCOMP_RET_USER_NOTIF,
            Action::Errno(e) => SECCOMP_RET_ERRNO | u32::from(e),
        }
    }
}

/// A condition on one 64-bit syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    /// `args[i] == v`, all 64 bits: for pointer and `long` arguments only.
    /// The kernel reads an `int` argument's low half alone, so those are
    /// compared with `MaskedEq(i, 0xffff_ffff, v)` (high bits would slip by).
    #[allow(dead_code)]
    Eq(u8, u64),
    /// `args[i] != v`.
    Ne(u8, u64),
    /// `args[i] & mask != 0`.
    AnyBits(u8, u64),
    /// `args[i] & mask == mask`… not needed; `args[i] & mask == v`.
    MaskedEq(u8, u64, u64),
}

/// A rule: when every condition holds, `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// All must hold (empty: always).
    pub when: Vec<Cond>,
    /// The answer.
    pub action: Action,
}

/// Rules per syscall number; rules of one syscall are tried in order, and a
/// syscall whose rules all fail gets the program's default.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    rules: BTreeMap<i64, Vec<Rule>>,
}

impl Filter {
    /// Adds `action` for syscall `nr` when every condition in `when` holds.
    pub fn rule(&mut self, nr: i64, when: &[Cond], action: Action) -> &mut Self {
        self.rules.entry(nr).or_default().push(Rule {
            when: when.to_vec(),
            action,
        });
        self
    }

    /// Adds an unconditional `action` for each syscall in `nrs`.
    #[cfg(test)]
    pub fn always(&mut self, nrs: &[i64], action: Action) -> &mut Self {
        for &nr in nrs {
            self.rule(nr, &[], action);
        }
        self
    }

    /// What the filter answers for `nr` with `args` (a pure evaluation of the
    /// rules, the same the compiled program computes; the tests compare them).
    #[cfg(test)]
    pub fn decide(&self, nr: i64, args: [u64; 6], default: Action) -> Action {
        self.rules
            .get(&nr)
            .and_then(|rules| {
                rules
                    .iter()
                    .find(|r| r.when.iter().all(|c| holds(*c, &args)))
            })
            .map_or(default, |r| r.action)
    }

    /// Compiles to BPF. Foreign architectures and the x32 ABI are killed
    /// before any rule is looked at.
    pub fn compile(&self, default: Action) -> Program {
        let mut a = Asm::default();
        a.ld(OFF_ARCH);
        let native = a.label();
        a.jeq(AUDIT_ARCH, Target::Label(native), Target::Next);
        a.ret(SECCOMP_RET_KILL_PROCESS);
        a.bind(native);
        a.ld(OFF_NR);
        if X32_BIT != 0 {
            let not_x32 = a.label();
            a.jset(X32_BIT, Target::Next, Target::Label(not_x32));
            a.ret(SECCOMP_RET_KILL_PROCESS);
            a.bind(not_x32);
        }
        for (&nr, rules) in &self.rules {
            let next_nr = a.label();
            // Syscall numbers are small and non-negative.
            a.jeq(nr as u32, Target::Next, Target::Label(next_nr));
            for rule in rules {
                let next_rule = a.label();
                for c in &rule.when {
                    cond(&mut a, *c, next_rule);
                }
                a.ret(rule.action.ret());
                a.bind(next_rule);
            }
            a.ret(default.ret());
            a.bind(next_nr);
            // The rule bodies clobbered A.
            a.ld(OFF_NR);
        }
        a.ret(default.ret());
        Program(a.assemble())
    }
}

impl Cond {
    /// True when the condition holds for these arguments.
    pub fn holds(self, args: &[u64; 6]) -> bool {
        holds(self, args)
    }
}

fn holds(c: Cond, args: &[u64; 6]) -> bool {
    match c {
        Cond::Eq(i, v) => args[usize::from(i)] == v,
        Cond::Ne(i, v) => args[usize::from(i)] != v,
        Cond::AnyBits(i, m) => args[usize::from(i)] & m != 0,
        Cond::MaskedEq(i, m, v) => args[usize::from(i)] & m == v,
    }
}

/// Emits code that falls through when `c` holds and jumps to `fail` otherwise.
fn cond(a: &mut Asm, c: Cond, fail: usize) {
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    match c {
        Cond::Eq(i, v) | Cond::MaskedEq(i, _, v) | Cond::Ne(i, v) => {
            let mask = match c {
                Cond::MaskedEq(_, m, _) => m,
                _ => u64::MAX,
            };
            let ne = matches!(c, Cond::Ne(..));
            let holds = a.label();
            // Low word.
            a.ld(arg_lo(i));
            if lo(mask) != u32::MAX {
                a.and(lo(mask));
            }
            if ne {
                a.jeq(lo(v), Target::Next, Target::Label(holds));
            } else {
                a.jeq(lo(v), Target::Next, Target::Label(fail));
            }
            // High word.
            a.ld(arg_hi(i));
            if hi(mask) != u32::MAX {
                a.and(hi(mask));
            }
            if ne {
                a.jeq(hi(v), Target::Label(fail), Target::Next);
            } else {
                a.jeq(hi(v), Target::Next, Target::Label(fail));
            }
            a.bind(holds);
        }
        Cond::AnyBits(i, m) => {
            let holds = a.label();
            a.ld(arg_lo(i));
            a.jset(lo(m), Target::Label(holds), Target::Next);
            a.ld(arg_hi(i));
            a.jset(hi(m), Target::Next, Target::Label(fail));
            a.bind(holds);
        }
    }
}

/// A compiled program, ready for `seccomp(SECCOMP_SET_MODE_FILTER, …)`.
#[derive(Clone, Debug)]
pub struct Program(pub Vec<libc::sock_filter>);

impl Program {
    /// Runs the program on a syscall, as the kernel would (for tests).
    #[cfg(test)]
    pub fn run(&self, arch: u32, nr: i64, args: [u64; 6]) -> u32 {
        let mut data = [0u32; 16];
        data[0] = nr as u32;
        data[1] = arch;
        for (i, v) in args.iter().enumerate() {
            data[4 + 2 * i] = *v as u32;
            data[5 + 2 * i] = (*v >> 32) as u32;
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        while let Some(ins) = self.0.get(pc) {
            pc += 1;
            match ins.code {
                c if c == LD_ABS => acc = data[ins.k as usize / 4],
                c if c == AND_K => acc &= ins.k,
                c if c == RET_K => return ins.k,
                c if c == JA => pc += ins.k as usize,
                c if c == JEQ_K || c == JSET_K => {
                    let taken = if c == JEQ_K {
                        acc == ins.k
                    } else {
                        acc & ins.k != 0
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                _ => return u32::MAX,
            }
        }
        u32::MAX
    }
}

/// Seccomp return values (from `linux/seccomp.h`).
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
/// Fail with an errno.
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
/// Notify the supervisor.
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// Allow.
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
fn arg_lo(i: u8) -> u32 {
    16 + 8 * u32::from(i)
}
fn arg_hi(i: u8) -> u32 {
    20 + 8 * u32::from(i)
}

/// The native audit architecture.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xc000_00b7;
/// The x32 syscall bit (x86_64 only).
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;
#[cfg(not(target_arch = "x86_64"))]
const X32_BIT: u32 = 0;

const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;

#[derive(Clone, Copy)]
enum Target {
    Next,
    Label(usize),
}

enum Ins {
    Ld(u32),
    And(u32),
    Ret(u32),
    Jmp {
        op: u16,
        k: u32,
        t: Target,
        f: Target,
    },
    Bind(usize),
}

/// Instructions with symbolic forward labels, resolved at the end. A
/// conditional jump whose target is farther than 255 goes through a `ja`.
#[derive(Default)]
struct Asm {
    ins: Vec<Ins>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn bind(&mut self, l: usize) {
        self.ins.push(Ins::Bind(l));
    }
    fn ld(&mut self, off: u32) {
        self.ins.push(Ins::Ld(off));
    }
    fn and(&mut self, k: u32) {
        self.ins.push(Ins::And(k));
    }
    fn ret(&mut self, k: u32) {
        self.ins.push(Ins::Ret(k));
    }
    fn jeq(&mut self, k: u32, t: Target, f: Target) {
        self.ins.push(Ins::Jmp { op: JEQ_K, k, t, f });
    }
    fn jset(&mut self, k: u32, t: Target, f: Target) {
        self.ins.push(Ins::Jmp {
            op: JSET_K,
            k,
            t,
            f,
        });
    }

    fn assemble(self) -> Vec<libc::sock_filter> {
        // Every conditional jump gets two trampoline slots after it (used or
        // not), so offsets stay small and positions are known up front.
        let mut pos = Vec::with_capacity(self.ins.len());
        let mut label_at = vec![0usize; self.labels];
        let mut n = 0usize;
        for i in &self.ins {
            pos.push(n);
            match i {
                Ins::Bind(l) => label_at[*l] = n,
                Ins::Jmp { .. } => n += 3,
                _ => n += 1,
            }
        }
        let f = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
        let mut out = Vec::with_capacity(n);
        for (idx, i) in self.ins.iter().enumerate() {
            match i {
                Ins::Bind(_) => {}
                Ins::Ld(off) => out.push(f(LD_ABS, 0, 0, *off)),
                Ins::And(k) => out.push(f(AND_K, 0, 0, *k)),
                Ins::Ret(k) => out.push(f(RET_K, 0, 0, *k)),
                Ins::Jmp { op, k, t, f: fl } => {
                    let here = pos[idx];
                    // jt → slot 1 (ja to true target), jf → slot 2 (ja to false target).
                    let dest = |t: &Target| match t {
                        Target::Next => here + 3,
                        Target::Label(l) => label_at[*l],
                    };
                    out.push(f(*op, 0, 1, *k));
                    out.push(f(JA, 0, 0, (dest(t) - (here + 2)) as u32));
                    out.push(f(JA, 0, 0, (dest(fl) - (here + 3)) as u32));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: i64 = libc::SYS_openat;
    const CLONE: i64 = libc::SYS_clone;

    fn filter() -> Filter {
        let mut f = Filter::default();
        f.always(&[OPENAT], Action::Notify)
            .rule(CLONE, &[Cond::AnyBits(0, 0x7000_0000)], Action::Errno(1))
            .rule(libc::SYS_socket, &[Cond::Eq(0, 17)], Action::Errno(13))
            .rule(
                libc::SYS_socket,
                &[Cond::Eq(0, 16), Cond::Ne(2, 0)],
                Action::Errno(13),
            )
            .rule(libc::SYS_sendto, &[Cond::Ne(4, 0)], Action::Notify)
            .rule(
                libc::SYS_chmod,
                &[Cond::MaskedEq(1, 0o111, 0)],
                Action::Allow,
            )
            .rule(libc::SYS_chmod, &[], Action::Notify);
        f
    }

    #[test]
    fn compiled_program_matches_the_rules() {
        let f = filter();
        let prog = f.compile(Action::Allow);
        let cases: &[(i64, [u64; 6])] = &[
            (OPENAT, [0; 6]),
            (CLONE, [0x11, 0, 0, 0, 0, 0]),
            (CLONE, [0x1000_0000, 0, 0, 0, 0, 0]),
            (libc::SYS_socket, [17, 3, 0, 0, 0, 0]),
            (libc::SYS_socket, [2, 1, 0, 0, 0, 0]),
            (libc::SYS_socket, [16, 3, 0, 0, 0, 0]),
            (libc::SYS_socket, [16, 3, 9, 0, 0, 0]),
            (libc::SYS_sendto, [3, 0, 0, 0, 0, 0]),
            (libc::SYS_sendto, [3, 0, 0, 0, 1 << 40, 0]),
            (libc::SYS_chmod, [0, 0o644, 0, 0, 0, 0]),
            (libc::SYS_chmod, [0, 0o755, 0, 0, 0, 0]),
            (libc::SYS_read, [0; 6]),
        ];
        for (nr, args) in cases {
            let want = f.decide(*nr, *args, Action::Allow).ret();
            assert_eq!(
                prog.run(AUDIT_ARCH, *nr, *args),
                want,
                "nr {nr} args {args:?}"
            );
        }
        assert_eq!(
            prog.run(AUDIT_ARCH, libc::SYS_sendto, [3, 0, 0, 0, 1 << 40, 0]),
            SECCOMP_RET_USER_NOTIF
        );
        assert_eq!(
            prog.run(AUDIT_ARCH, CLONE, [0x1000_0000, 0, 0, 0, 0, 0]),
            SECCOMP_RET_ERRNO | 1
        );
    }

    #[test]
    fn foreign_abis_are_killed() {
        let prog = filter().compile(Action::Allow);
        assert_eq!(prog.run(0x4000_0003, 5, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            prog.run(AUDIT_ARCH, 0x4000_0000 | 2, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    fn long_programs_keep_jumps_in_range() {
        let mut f = Filter::default();
        for nr in 0..400 {
            f.rule(nr, &[Cond::Eq(0, nr as u64)], Action::Errno(1));
        }
        let prog = f.compile(Action::Allow);
        assert_eq!(
            prog.run(AUDIT_ARCH, 399, [399, 0, 0, 0, 0, 0]),
            SECCOMP_RET_ERRNO | 1
        );
        assert_eq!(
            prog.run(AUDIT_ARCH, 399, [1, 0, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(prog.run(AUDIT_ARCH, 401, [0; 6]), SECCOMP_RET_ALLOW);
    }
}
