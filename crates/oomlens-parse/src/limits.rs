//! The longest line kept: a leaf both the reader and the record flattener use.

/// The longest line kept; the rest of a longer line is skipped (and counted).
pub const MAX_LINE: usize = 64 * 1024;
