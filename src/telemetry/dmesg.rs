//! `dmesg_tail.txt`: the kernel's last lines at the job's end. What rpd
//! looks for: OOM kills (the kernel, or a container's memory cgroup,
//! killed a process) and NVIDIA Xid errors (the driver reporting a GPU
//! fault). Lines may carry `dmesg`'s seconds since boot (`[ 1234.5678]`),
//! `dmesg -T`'s time (`[Tue Dec  1 13:20:05 2026]`) or `--time-format iso`'s.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

/// When a kernel line was written, as the line says it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelTime {
    /// Seconds since the host booted (plain `dmesg`).
    SinceBoot(f64),
    /// A time with its offset (`--time-format iso`).
    At(DateTime<Utc>),
    /// `dmesg -T`'s time: the host's local time, zone unknown.
    HostClock(NaiveDateTime),
}

/// A process the kernel killed because memory ran out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OomKill {
    pub at: Option<KernelTime>,
    pub process: Option<String>,
    pub pid: Option<u32>,
    /// A container's memory limit (`Memory cgroup out of memory`, or
    /// `constraint=CONSTRAINT_MEMCG`), not the whole host.
    pub cgroup: bool,
}

/// An NVIDIA Xid line: `NVRM: Xid (PCI:0000:3b:00): 79, pid=..., GPU has fallen off the bus.`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Xid {
    pub at: Option<KernelTime>,
    pub code: u32,
    /// The GPU's PCI address, as the line names it.
    pub pci: Option<String>,
    pub process: Option<String>,
}

/// What the kernel's lines say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Dmesg {
    pub lines: usize,
    pub oom_kills: Vec<OomKill>,
    pub xids: Vec<Xid>,
}

impl Dmesg {
    /// Only the events at seconds since boot within `window` (widened by
    /// `slack`); events whose time is not counted from boot are kept.
    pub fn within(mut self, window: (f64, f64), slack: f64) -> Dmesg {
        let inside = |at: &Option<KernelTime>| match at {
            Some(KernelTime::SinceBoot(t)) => (window.0 - slack..=window.1 + slack).contains(t),
            _ => true,
        };
        self.oom_kills.retain(|k| inside(&k.at));
        self.xids.retain(|x| inside(&x.at));
        self
    }
}

/// Reads the lines; anything else in them is ignored.
pub fn scan(text: &str) -> Dmesg {
    let mut dmesg = Dmesg::default();
    // An OOM kill writes several lines (who invoked the killer, the
    // `oom-kill:` summary, `Killed process`): one kill per pid.
    let mut invoked: Option<Option<KernelTime>> = None;
    for line in text.lines() {
        dmesg.lines += 1;
        let (at, message) = split_time(line);
        if let Some(xid) = xid(message, at.clone()) {
            dmesg.xids.push(xid);
        } else if let Some(kill) = oom_kill(message, at.clone()) {
            match dmesg
                .oom_kills
                .iter_mut()
                .find(|k| k.pid.is_some() && k.pid == kill.pid)
            {
                Some(seen) => {
                    seen.cgroup |= kill.cgroup;
                    seen.process = seen.process.take().or(kill.process);
                }
                None => dmesg.oom_kills.push(kill),
            }
        } else if message.contains("invoked oom-killer") && invoked.is_none() {
            invoked = Some(at);
        }
    }
    // The killer ran but the line naming its victim is not in the tail.
    if let (true, Some(at)) = (dmesg.oom_kills.is_empty(), invoked) {
        dmesg.oom_kills.push(OomKill {
            at,
            process: None,
            pid: None,
            cgroup: false,
        });
    }
    dmesg
}

/// `[ 1234.567890] message`, `[Tue Dec  1 13:20:05 2026] message`,
/// `2026-12-01T13:20:05,123456+00:00 message`, or a line without a time.
fn split_time(line: &str) -> (Option<KernelTime>, &str) {
    let line = line.trim_start();
    if let Some(rest) = line.strip_prefix('[')
        && let Some((inside, message)) = rest.split_once(']')
    {
        let inside = inside.trim();
        if let Ok(seconds) = inside.parse::<f64>()
            && seconds.is_finite()
            && seconds >= 0.0
        {
            return (Some(KernelTime::SinceBoot(seconds)), message.trim_start());
        }
        let squeezed = inside.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Ok(t) = NaiveDateTime::parse_from_str(&squeezed, "%a %b %d %H:%M:%S %Y") {
            return (Some(KernelTime::HostClock(t)), message.trim_start());
        }
        return (None, line);
    }
    // `--time-format iso` separates the fraction with a comma.
    if let Some((first, message)) = line.split_once(' ')
        && let Ok(t) = DateTime::parse_from_rfc3339(&first.replacen(',', ".", 1))
    {
        return (
            Some(KernelTime::At(t.with_timezone(&Utc))),
            message.trim_start(),
        );
    }
    (None, line)
}

/// `NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.`
fn xid(message: &str, at: Option<KernelTime>) -> Option<Xid> {
    let start = message.find("NVRM: Xid")?;
    let rest = &message[start + "NVRM: Xid".len()..];
    let (pci, rest) = match rest.trim_start().strip_prefix('(') {
        Some(inside) => {
            let (pci, rest) = inside.split_once(')')?;
            let pci = pci.trim();
            let pci = pci.strip_prefix("PCI:").unwrap_or(pci);
            (Some(pci.to_string()).filter(|p| !p.is_empty()), rest)
        }
        None => (None, rest),
    };
    let rest = rest
        .trim_start()
        .strip_prefix(':')
        .unwrap_or(rest)
        .trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let code = digits.parse().ok()?;
    Some(Xid {
        at,
        code,
        pci,
        process: field(rest, "name="),
    })
}

/// `Out of memory: Killed process 1234 (python) ...`, `Memory cgroup out
/// of memory: Killed process ...`, or the `oom-kill:...,task=python,pid=1234,...`
/// summary.
fn oom_kill(message: &str, at: Option<KernelTime>) -> Option<OomKill> {
    if let Some(start) = message.find("oom-kill:") {
        let summary = &message[start..];
        return Some(OomKill {
            at,
            process: field(summary, "task="),
            pid: field(summary, "pid=").and_then(|p| p.parse().ok()),
            cgroup: summary.contains("CONSTRAINT_MEMCG"),
        });
    }
    let lower = message.to_ascii_lowercase();
    if !lower.contains("out of memory") && !message.starts_with("Killed process") {
        return None;
    }
    // Older kernels: `Out of memory: Kill process 1234 (python) score ...`.
    let at_kill = message
        .find("Killed process")
        .map(|i| i + "Killed process".len())
        .or_else(|| {
            message
                .find("Kill process")
                .map(|i| i + "Kill process".len())
        })?;
    let rest = &message[at_kill..];
    let pid = rest
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok());
    let process = rest
        .split_once('(')
        .and_then(|(_, after)| after.split_once(')'))
        .map(|(name, _)| name.to_string())
        .filter(|n| !n.is_empty());
    Some(OomKill {
        at,
        process,
        pid,
        cgroup: lower.contains("memory cgroup"),
    })
}

/// The value after `key` up to the next comma or space.
fn field(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let value: String = text[start..]
        .chars()
        .take_while(|c| *c != ',' && !c.is_whitespace())
        .collect();
    (!value.is_empty()).then_some(value)
}

/// What an Xid code means and whose fault it usually is, from NVIDIA's Xid
/// catalog; `None` for a code rpd does not know.
pub fn xid_meaning(code: u32) -> Option<(&'static str, XidBlame)> {
    use XidBlame::*;
    Some(match code {
        13 => ("graphics engine exception", Job),
        31 => ("GPU memory page fault", Job),
        43 => ("GPU stopped processing", Job),
        45 => ("preemptive cleanup after an earlier error", Job),
        48 => ("double-bit ECC error", Host),
        61 => ("internal micro-controller breakpoint", Host),
        62 => ("internal micro-controller halt", Host),
        63 => ("ECC page retirement or row remapping", Host),
        64 => ("ECC page retirement or row remapping failed", Host),
        74 => ("NVLink error", Host),
        79 => ("GPU has fallen off the bus", Host),
        92 => ("high single-bit ECC error rate", Host),
        94 => ("contained ECC error", Host),
        95 => ("uncontained ECC error", Host),
        119 => ("GSP RPC timeout", Host),
        120 => ("GSP error", Host),
        _ => return None,
    })
}

/// Whose fault an Xid usually is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XidBlame {
    /// The host's GPU, its memory or its bus: another host is the fix.
    Host,
    /// Usually the program (an illegal memory access, say).
    Job,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_oom_kill_is_one_kill_with_its_process_and_time() {
        let text = "\
[ 8812.100000] python invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[ 8812.100200] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=abc,mems_allowed=0,oom_memcg=/kubepods/x,task_memcg=/kubepods/x,task=python,pid=4242,uid=0
[ 8812.100300] Memory cgroup out of memory: Killed process 4242 (python) total-vm:123kB, anon-rss:99kB
";
        let dmesg = scan(text);
        assert_eq!(
            dmesg.oom_kills,
            [OomKill {
                at: Some(KernelTime::SinceBoot(8812.1002)),
                process: Some("python".into()),
                pid: Some(4242),
                cgroup: true,
            }]
        );
        assert_eq!(dmesg.lines, 3);
    }

    #[test]
    fn old_and_new_kernel_oom_lines_and_a_killer_without_its_victim() {
        let old = scan(
            "[Tue Dec  1 13:20:05 2026] Out of memory: Kill process 77 (train.py) score 900 or sacrifice child\n",
        );
        assert_eq!(old.oom_kills[0].pid, Some(77));
        assert_eq!(old.oom_kills[0].process.as_deref(), Some("train.py"));
        assert_eq!(
            old.oom_kills[0].at,
            Some(KernelTime::HostClock(
                "2026-12-01T13:20:05".parse().unwrap()
            ))
        );
        let only_invoked = scan("[1.0] python invoked oom-killer: gfp_mask=0x0\n");
        assert_eq!(only_invoked.oom_kills.len(), 1);
        assert_eq!(only_invoked.oom_kills[0].process, None);
        assert!(scan("[1.0] usb 1-1: new device\n").oom_kills.is_empty());
    }

    #[test]
    fn xid_lines_in_their_shapes() {
        let dmesg = scan(
            "2026-12-01T13:20:05,123456+00:00 NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.\n\
             [ 10.5] NVRM: Xid (0000:00:1e): 31, pid=5678, name=python, Ch 00000018, MMU Fault\n\
             [ 11.0] NVRM: Xid: garbage\n",
        );
        assert_eq!(dmesg.xids.len(), 2);
        assert_eq!(dmesg.xids[0].code, 79);
        assert_eq!(dmesg.xids[0].pci.as_deref(), Some("0000:3b:00"));
        assert_eq!(dmesg.xids[0].process.as_deref(), Some("python"));
        assert_eq!(
            dmesg.xids[0].at,
            Some(KernelTime::At(
                "2026-12-01T13:20:05.123456Z".parse().unwrap()
            ))
        );
        assert_eq!(dmesg.xids[1].code, 31);
        assert_eq!(dmesg.xids[1].at, Some(KernelTime::SinceBoot(10.5)));
        assert_eq!(xid_meaning(79).unwrap().1, XidBlame::Host);
        assert_eq!(xid_meaning(31).unwrap().1, XidBlame::Job);
        assert_eq!(xid_meaning(7), None);
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "[",
            "[]",
            "[ -1] x",
            "NVRM: Xid (",
            "NVRM: Xid (PCI:0):",
            "oom-kill:",
            "Killed process",
            "\u{0}\u{ffff}[9e999] Out of memory: Killed process (",
            "Out of memory: Killed process 99999999999 ()",
        ] {
            let _ = scan(text);
        }
    }
}
