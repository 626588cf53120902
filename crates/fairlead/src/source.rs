//! What `serve` needs from a source: a blocking `load` that reads the current objects and
//! translates them.

use fairlead_translate::Translation;
use std::collections::BTreeMap;

/// What one load produced.
pub struct Loaded {
    pub translation: Translation,
    /// Problems with files, documents or objects, each naming where and why.
    pub errors: Vec<String>,
    /// Objects per kind, including ignored kinds under their own name.
    pub counts: BTreeMap<String, usize>,
    /// Time spent reading and parsing, and translating.
    pub read_time: std::time::Duration,
    pub translate_time: std::time::Duration,
}

/// A source of objects. `load` is blocking, CPU-bound work: call it from a blocking thread.
pub trait Source: Send + 'static {
    fn load(&mut self) -> Loaded;
}

/// Seconds since the Unix epoch (negative before it, which only a broken clock gives).
pub fn unix_now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}
