//! Checking a parser's findings against the reports a generator inserted.

use super::*;

/// One incident as a parser reported it: where it was read and what it killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// First input line of the incident.
    pub first_line: u64,
    /// Last input line of the incident.
    pub last_line: u64,
    /// Input lines of its kills.
    pub kill_lines: Vec<u64>,
    /// The first kill's pid.
    pub victim_pid: Option<u64>,
    /// `kind` as printed.
    pub kind: Option<String>,
}

/// Reads the incidents of an `oomlens explain --json` document
/// (`{"schema":"oomlens.explain/1","incidents":[{"source":{"first_line":…,"last_line":…},
/// "kills":[{"pid":…,"line":…}],…}]}`).
pub fn incidents_from_json(doc: &serde_json::Value) -> Result<Vec<Found>, String> {
    let list = doc
        .get("incidents")
        .and_then(|v| v.as_array())
        .ok_or("the document has no \"incidents\" array")?;
    let mut out = Vec::with_capacity(list.len());
    for (n, inc) in list.iter().enumerate() {
        let src = inc.get("source");
        let line = |k: &str| src.and_then(|s| s.get(k)).and_then(|v| v.as_u64());
        let first_line = line("first_line").ok_or(format!("incident {n}: no source.first_line"))?;
        let last_line = line("last_line").unwrap_or(first_line);
        let kills = inc
            .get("kills")
            .and_then(|k| k.as_array())
            .cloned()
            .unwrap_or_default();
        out.push(Found {
            first_line,
            last_line,
            kill_lines: kills
                .iter()
                .filter_map(|k| k.get("line").and_then(|l| l.as_u64()))
                .collect(),
            victim_pid: kills
                .first()
                .and_then(|k| k.get("pid"))
                .and_then(|p| p.as_u64()),
            kind: inc.get("kind").and_then(|k| k.as_str()).map(str::to_string),
        });
    }
    Ok(out)
}

/// The result of matching found incidents against inserted reports.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// Incidents the inserted reports hold.
    pub expected: u64,
    /// Incidents found.
    pub found: u64,
    /// Reports with fewer incidents found than they hold: (report, incidents found in it).
    pub missing: Vec<(Inserted, u32)>,
    /// Reports with more incidents found than they hold.
    pub split: Vec<(Inserted, u32)>,
    /// Incidents outside every inserted report: found in noise.
    pub extra: Vec<Found>,
    /// Incidents that start inside a report but whose first kill line lies outside it
    /// (counted as found; the kill's `line` is wrong).
    pub misplaced_kill: Vec<(Inserted, Found)>,
}

impl Check {
    /// True when every report yielded exactly its incidents and noise yielded none.
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.split.is_empty() && self.extra.is_empty()
    }

    /// A human-readable account, one problem per line (at most `max` of each kind).
    pub fn describe(&self, max: usize) -> String {
        let mut s = format!(
            "expected {} incidents, found {}\n",
            self.expected, self.found
        );
        for (i, got) in self.missing.iter().take(max) {
            s += &format!(
                "MISSED  {} at lines {}-{}: {} of {} incidents found (victim pid {:?})\n",
                i.report, i.first_line, i.last_line, got, i.incidents, i.victim_pid
            );
        }
        for (i, got) in self.split.iter().take(max) {
            s += &format!(
                "SPLIT   {} at lines {}-{}: {} incidents found, {} expected\n",
                i.report, i.first_line, i.last_line, got, i.incidents
            );
        }
        for (i, f) in self.misplaced_kill.iter().take(max) {
            s += &format!(
                "NOTE    {} at lines {}-{}: found as lines {}-{}, but its kill line {:?} is outside the report\n",
                i.report, i.first_line, i.last_line, f.first_line, f.last_line, f.kill_lines.first()
            );
        }
        for f in self.extra.iter().take(max) {
            s += &format!(
                "EXTRA   incident at lines {}-{} (kind {:?}, victim pid {:?}) outside any inserted report\n",
                f.first_line, f.last_line, f.kind, f.victim_pid
            );
        }
        let hidden = self.missing.len().saturating_sub(max)
            + self.split.len().saturating_sub(max)
            + self.extra.len().saturating_sub(max)
            + self.misplaced_kill.len().saturating_sub(max);
        if hidden > 0 {
            s += &format!("... and {hidden} more\n");
        }
        s
    }
}

/// Matches `found` incidents to `inserted` reports. An incident belongs to the report whose
/// line range holds its first kill line, or else its first line. An incident that
/// starts in noise and has no kill is extra even if it runs into a report: it was read from
/// noise lines.
pub fn check(inserted: &[Inserted], found: &[Found]) -> Check {
    let mut counts: BTreeMap<usize, u32> = BTreeMap::new();
    let mut extra = Vec::new();
    let locate = |line: u64| -> Option<usize> {
        let idx = inserted.partition_point(|i| i.first_line <= line);
        (idx > 0 && inserted[idx - 1].last_line >= line).then(|| idx - 1)
    };
    let mut misplaced_kill = Vec::new();
    for f in found {
        let hit = match f.kill_lines.first() {
            None => locate(f.first_line),
            Some(&kill) => locate(kill).or_else(|| {
                let i = locate(f.first_line)?;
                misplaced_kill.push((inserted[i].clone(), f.clone()));
                Some(i)
            }),
        };
        match hit {
            Some(i) => *counts.entry(i).or_default() += 1,
            None => extra.push(f.clone()),
        }
    }
    let mut c = Check {
        expected: inserted.iter().map(|i| u64::from(i.incidents)).sum(),
        found: found.len() as u64,
        extra,
        misplaced_kill,
        ..Check::default()
    };
    for (n, i) in inserted.iter().enumerate() {
        let got = counts.get(&n).copied().unwrap_or(0);
        if got < i.incidents {
            c.missing.push((i.clone(), got));
        } else if got > i.incidents {
            c.split.push((i.clone(), got));
        }
    }
    c
}
