//! `virStreamSendHole`, which the `virt` crate does not wrap: the one call that lets a
//! sparse upload tell libvirt "this many zero bytes" instead of sending them.
//!
//! This is one of the two modules of rack with `unsafe` code (the other is `leases.rs`;
//! the workspace denies it elsewhere). It is sound because:
//!
//! - the pointer comes from [`Stream::as_ptr`] on a `Stream` borrowed for the whole call,
//!   so the stream object is alive (the wrapper holds a reference count that is only
//!   released when the `Stream` is dropped, which the borrow prevents);
//! - `virStreamSendHole` takes the stream pointer, a length and flags by value, keeps no
//!   reference to anything after it returns, and reports failure by returning -1 with
//!   the error in libvirt's thread-local last-error slot, which
//!   [`virt::error::Error::last_error`] reads on the same thread right after;
//! - libvirt's streams are safe to use from the thread that owns them, which is the only
//!   thread the caller uses this `Stream` on.

#![allow(unsafe_code)]

use virt::stream::Stream;

/// Tells the receiving end of `stream` that the next `length` bytes are a hole (read as
/// zeros). The stream must have been opened for a sparse upload
/// (`VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM`); `length` must be positive.
pub(crate) fn send_hole(stream: &Stream, length: i64) -> Result<(), virt::error::Error> {
    // SAFETY: see the module documentation: the pointer is valid for the duration of
    // the borrow of `stream`, and the call retains nothing.
    let ret = unsafe { virt::sys::virStreamSendHole(stream.as_ptr(), length, 0) };
    if ret < 0 {
        return Err(virt::error::Error::last_error());
    }
    Ok(())
}
