//! What the snapshot tests share: one corpus report, parsed and explained as `oomlens
//! explain --year 2024` does in the corpus directory.

use std::path::PathBuf;

use oomlens_analysis::explain::{Explainer, Explanation};
use oomlens_model::Incident;
use oomlens_parse::{parse_bytes, Options};

/// The incidents of the corpus file whose name starts with `prefix` (`tests/corpus/
/// oom-reports`, or `OOMLENS_CORPUS`), each with its explanation, in log order.
pub fn explained(prefix: &str) -> Vec<(Incident, Explanation)> {
    let dir = std::env::var_os("OOMLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/oom-reports")
        });
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no corpus file {prefix}*"));
    let opts = Options {
        file: Some(path.file_name().unwrap().to_string_lossy().into_owned()),
        clock: oomlens_parse::Clock {
            reference_year: Some(2024),
            boot_time_us: None,
        },
        ..Options::default()
    };
    let mut ex = Explainer::new();
    parse_bytes(&std::fs::read(&path).unwrap(), opts)
        .into_iter()
        .map(|inc| {
            let e = ex.explain(&inc);
            (inc, e)
        })
        .collect()
}
