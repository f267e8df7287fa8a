//! The exit statuses every subcommand shares, in a module of their own so that the command
//! modules do not import the flag declarations that import them.

/// Exit status when the command found what it looks for.
pub const EXIT_FOUND: u8 = 0;
/// Exit status when it ran cleanly and found nothing.
pub const EXIT_NOTHING: u8 = 1;
/// Exit status on any error (bad input, unreadable log, bad flag).
pub const EXIT_ERROR: u8 = 2;
