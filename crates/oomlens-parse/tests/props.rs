//! Property tests: arbitrary bytes and mutated real reports never panic, incidents point at
//! lines that exist, and the result does not depend on how the input is split into reads.

use std::io::Read;
use std::path::PathBuf;

use oomlens_parse::{parse_bytes, parse_reader, Options};
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("OOMLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/oom-reports")
        });
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// A reader that hands out its bytes in the given chunk sizes.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self
            .sizes
            .get(self.i % self.sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn check_invariants(input: &[u8]) {
    let lines = input.split(|&b| b == b'\n').count() as u64;
    let text = String::from_utf8_lossy(input);
    for inc in parse_bytes(input, Options::default()) {
        assert!(inc.source.first_line >= 1 && inc.source.first_line <= inc.source.last_line);
        assert!(
            inc.source.last_line <= lines,
            "last_line {} > {lines} lines",
            inc.source.last_line
        );
        for k in &inc.kills {
            if let Some(pid) = k.pid {
                assert!(
                    text.contains(&pid.to_string()),
                    "kill pid {pid} is not in the input"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        check_invariants(&bytes);
    }

    #[test]
    fn arbitrary_lines_of_report_words_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("Killed process ".to_string()),
                Just("oom-kill:constraint=,pid=,uid=".to_string()),
                Just("[  pid  ]   uid  tgid total_vm      rss name".to_string()),
                Just("Memory cgroup stats for /a:".to_string()),
                Just("x invoked oom-killer: gfp_mask=".to_string()),
                "[ -~]{0,80}",
                "\\PC{0,40}",
            ],
            0..40,
        )
    ) {
        check_invariants(lines.join("\n").as_bytes());
    }

    #[test]
    fn mutated_corpus_reports_never_panic(
        file in 0usize..64,
        edits in proptest::collection::vec((0usize..400, 0usize..200, 0u8..5, any::<u8>()), 1..12),
    ) {
        let corpus = corpus();
        let src = &corpus[file % corpus.len()];
        let mut lines: Vec<Vec<u8>> = src.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        for (li, at, op, byte) in edits {
            if lines.is_empty() { break; }
            let li = li % lines.len();
            let l = &mut lines[li];
            let at = if l.is_empty() { 0 } else { at % l.len() };
            match op {
                0 => l.truncate(at),                       // a line cut short
                1 => { lines.remove(li); }                 // a line lost
                2 => { let c = lines[li].clone(); lines.insert(li, c); } // a line repeated
                3 => l.insert(at, byte),                   // a stray (maybe invalid UTF-8) byte
                _ => { let j = (li + at) % lines.len(); lines.swap(li, j); } // reordered
            }
        }
        check_invariants(&lines.join(&b'\n'));
    }

    #[test]
    fn read_chunking_does_not_change_the_result(
        file in 0usize..64,
        sizes in proptest::collection::vec(1usize..300, 1..8),
    ) {
        let corpus = corpus();
        let src = &corpus[file % corpus.len()];
        let whole = parse_bytes(src, Options::default());
        let mut chunked = Vec::new();
        parse_reader(Chunked { data: src, sizes, i: 0 }, Options::default(), |i| chunked.push(i)).unwrap();
        prop_assert_eq!(whole, chunked);
    }
}

#[test]
fn a_long_line_is_cut_and_the_next_report_still_found() {
    let mut input = vec![b'x'; 300 * 1024];
    input.extend_from_slice(b"\n[ 1.0] Out of memory: Killed process 42 (hog) total-vm:1kB, anon-rss:2kB, file-rss:0kB, shmem-rss:0kB\n");
    let mut n = 0;
    let stats = parse_reader(&input[..], Options::default(), |i| {
        assert_eq!(i.kills[0].pid, Some(42));
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(stats.long_lines, 1);
    assert_eq!(stats.lines, 2);
}
