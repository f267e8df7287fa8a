//! /proc values the log parser needs, read from a root (`/` on the live host).

use std::path::{Path, PathBuf};

use crate::SourceError;

/// The default root of the live host.
pub const DEFAULT_ROOT: &str = "/";

/// Boot time in microseconds since the epoch, from `btime` in `<root>/proc/stat` (seconds).
pub fn boot_time_us(root: &Path) -> Result<i64, SourceError> {
    let path: PathBuf = root.join("proc/stat");
    let text = std::fs::read_to_string(&path).map_err(|source| SourceError::Io {
        path: path.clone(),
        source,
    })?;
    let btime = text
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .ok_or_else(|| SourceError::Format {
            path: path.clone(),
            problem: "no btime line".into(),
        })?;
    let secs: i64 = btime.trim().parse().map_err(|_| SourceError::Format {
        path,
        problem: format!("btime {btime:?} is not a number"),
    })?;
    Ok(secs * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_btime_from_a_fake_root() {
        let dir = std::env::temp_dir().join(format!("oomlens-proc-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(
            dir.join("proc/stat"),
            "cpu 1 2 3\nbtime 1795425442\nprocesses 9\n",
        )
        .unwrap();
        assert_eq!(boot_time_us(&dir).unwrap(), 1_795_425_442_000_000);
        std::fs::write(dir.join("proc/stat"), "cpu 1 2 3\n").unwrap();
        assert!(boot_time_us(&dir)
            .unwrap_err()
            .to_string()
            .contains("no btime"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
