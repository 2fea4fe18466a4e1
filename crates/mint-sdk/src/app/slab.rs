//! Small byte strings made per request (a fresh request id's header value, a plugin-relative
//! path) cut from a per-thread buffer: making one costs a copy and a reference-count increment
//! instead of a heap allocation and its free.
//!
//! A string keeps its whole buffer ([`CHUNK`] bytes) alive until it is dropped, as the request
//! head hyper parses does with its read buffer; strings longer than [`LONGEST`] are allocated
//! on their own so that one long path cannot waste most of a buffer.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// Bytes per buffer: room for 256 request ids.
const CHUNK: usize = 4096;

/// Longest string cut from a buffer; longer ones get their own allocation.
const LONGEST: usize = 256;

thread_local! {
    static BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// `parts` joined into one [`Bytes`], from the thread's buffer when short.
pub(crate) fn joined(parts: &[&[u8]]) -> Bytes {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let cut = BUFFER.try_with(|cell| {
        // Never borrowed twice (nothing here calls out); a thread being torn down has no
        // buffer. Either way, as for a long string, the string is allocated on its own.
        let mut buffer = cell.try_borrow_mut().ok().filter(|_| len <= LONGEST)?;
        if buffer.capacity() < len {
            // The old buffer stays alive for as long as strings cut from it do.
            *buffer = BytesMut::with_capacity(CHUNK);
        }
        for part in parts {
            buffer.extend_from_slice(part);
        }
        Some(buffer.split().freeze())
    });
    cut.ok()
        .flatten()
        .unwrap_or_else(|| Bytes::from(parts.concat()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_joined_and_independent() {
        let a = joined(&[b"/ping"]);
        let b = joined(&[b"/items/7", b"?", b"q=1"]);
        assert_eq!(&a[..], b"/ping");
        assert_eq!(&b[..], b"/items/7?q=1");
        let empty = joined(&[]);
        assert!(empty.is_empty());
        // Enough strings to use up several buffers: each keeps its own bytes.
        let many: Vec<Bytes> = (0..1000)
            .map(|i| joined(&[format!("{i:016x}").as_bytes()]))
            .collect();
        for (i, s) in many.iter().enumerate() {
            assert_eq!(&s[..], format!("{i:016x}").as_bytes());
        }
        let long = vec![b'x'; LONGEST + 1];
        assert_eq!(&joined(&[&long])[..], &long[..]);
    }
}
