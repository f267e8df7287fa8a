//! The `oomd` drill: systemd-oomd, not the kernel, kills. A transient service
//! (`systemd-run`) with `ManagedOOMMemoryPressure=kill` at a 1 % limit runs the allocator
//! (`pressure` mode: anonymous memory and page cache, see `child.rs`) above its
//! `MemoryHigh=` without swap, so the kernel throttles it and its memory pressure
//! stays high until systemd-oomd kills the unit (after its `DefaultMemoryPressureDurationSec=`,
//! 30 s unless configured). No shell is involved; the unit is stopped and its failed state
//! reset at the end.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::child::{Mode, Spec};
use crate::error::DrillError;

/// The transient unit of an oomd drill.
#[derive(Debug)]
pub struct OomdUnit {
    /// `oomlens-drill-<pid>-<random>.service`.
    pub name: String,
    stopped: bool,
}

fn unsupported(reason: String) -> DrillError {
    DrillError::Unsupported {
        kind: "oomd",
        reason,
    }
}

fn systemctl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("systemctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("systemctl: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether systemd-oomd runs here: PID 1 is systemd and `systemd-oomd.service` is active.
pub fn available() -> Result<(), DrillError> {
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if comm.trim() != "systemd" {
        return Err(unsupported(format!(
            "systemd-oomd is not running: PID 1 is {:?}, not systemd",
            comm.trim()
        )));
    }
    match systemctl(&["is-active", "systemd-oomd.service"]) {
        Ok(s) if s == "active" => Ok(()),
        Ok(s) => Err(unsupported(format!(
            "systemd-oomd is not running (systemd-oomd.service is {s:?})"
        ))),
        Err(e) => Err(unsupported(e)),
    }
}

impl OomdUnit {
    /// Starts the transient unit running this executable as the allocator.
    pub fn start(name: &str, limit: u64, cap_mib: u64) -> Result<OomdUnit, DrillError> {
        let exe = std::fs::read_link("/proc/self/exe").map_err(|source| DrillError::Read {
            path: "/proc/self/exe".into(),
            source,
        })?;
        let spec = Spec {
            mode: Mode::Pressure,
            mib: cap_mib,
            delay_ms: 0,
            rate: 0,
        };
        let out = Command::new("systemd-run")
            .arg(format!("--unit={name}"))
            .args(["--quiet", "--property=MemorySwapMax=0"])
            .arg(format!("--property=MemoryHigh={limit}"))
            .args([
                "--property=ManagedOOMMemoryPressure=kill",
                "--property=ManagedOOMMemoryPressureLimit=1%",
            ])
            .arg(&exe)
            .args(["drill", "--child", &spec.to_arg()])
            .stdin(Stdio::null())
            .output()
            .map_err(|source| DrillError::Spawn {
                program: Path::new("systemd-run").to_path_buf(),
                source,
            })?;
        if !out.status.success() {
            return Err(unsupported(format!(
                "systemd-run failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(OomdUnit {
            name: name.to_string(),
            stopped: false,
        })
    }

    /// The unit's cgroup as systemd reports it (`/system.slice/NAME`).
    pub fn cgroup(&self) -> Option<String> {
        systemctl(&["show", &self.name, "-p", "ControlGroup", "--value"])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The unit's main pid.
    pub fn main_pid(&self) -> Option<u32> {
        systemctl(&["show", &self.name, "-p", "MainPID", "--value"])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&p| p != 0)
    }

    /// Waits until the unit is no longer active; returns its `Result=` (`oom-kill` when
    /// systemd-oomd killed it).
    pub fn wait_ended(
        &self,
        timeout: Duration,
        interrupted: &AtomicBool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = systemctl(&["show", &self.name, "-p", "ActiveState", "--value"])?;
            if state != "active" && state != "activating" {
                return systemctl(&["show", &self.name, "-p", "Result", "--value"]);
            }
            if interrupted.load(Ordering::Relaxed) {
                return Err("was still running when the drill was interrupted".into());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "was not killed by systemd-oomd within {} s",
                    timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the unit and forgets its failure.
    pub fn stop(&mut self) -> Result<String, String> {
        if self.stopped {
            return Ok("already stopped".into());
        }
        systemctl(&["stop", &self.name])?;
        systemctl(&["reset-failed", &self.name])?;
        self.stopped = true;
        Ok(format!("stopped {}", self.name))
    }
}

impl Drop for OomdUnit {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
