//! The guard daemon (`oomlens guard`): records every OOM kill with the minutes before it.
//!
//! Placeholder on the bench branch only: the guard helper owns this crate. Here it carries
//! the loop-design prototypes under `examples/design_*` (see `bench/README.md`).
