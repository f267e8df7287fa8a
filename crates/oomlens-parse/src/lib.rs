//! Parse OOM-kill reports of every killer from every log form into typed incidents.
//!
//! Bytes in, [`oomlens_model::Incident`]s out: no I/O beyond reading the given reader.
//! The parser streams with bounded memory: lines longer than [`MAX_LINE`] are cut, task
//! tables and stats blocks are capped, and an incident closes after a bounded run of lines
//! that do not belong to it.
//!
//! ```
//! let log = b"[ 30.7] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t,task_memcg=/t,task=alloc,pid=84,uid=0\n\
//!             [ 30.8] Memory cgroup out of memory: Killed process 84 (alloc) total-vm:33876kB, anon-rss:32412kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:0\n";
//! let mut incidents = Vec::new();
//! oomlens_parse::parse_reader(&log[..], oomlens_parse::Options::default(), |i| incidents.push(i)).unwrap();
//! assert_eq!(incidents[0].kills[0].pid, Some(84));
//! ```

#![deny(missing_docs)]

mod assemble;
pub mod envelope;
pub mod kernel;
mod limits;
mod month;
mod parser;
mod podstatus;
pub mod records;
mod scan;
mod userspace;
mod wrap;

use std::io::Read;

use oomlens_model::Incident;

pub use envelope::{Clock, Form, Format, Hints};
pub use limits::MAX_LINE;
pub use parser::{Options, Parser};
pub use scan::{parse_reader, ReadStats, Scanner};
pub use userspace::recognizers::{recognizer_names, recognizer_of};

/// Parse a whole byte slice.
pub fn parse_bytes(input: &[u8], opts: Options) -> Vec<Incident> {
    let mut out = Vec::new();
    parse_reader(input, opts, |i| out.push(i)).expect("reading a slice cannot fail");
    out
}

/// Parse everything `r` yields, calling `sink` for each incident in input order.
pub fn parse<R: Read>(
    r: R,
    opts: Options,
    sink: impl FnMut(Incident),
) -> std::io::Result<ReadStats> {
    parse_reader(r, opts, sink)
}
