//! Provider functions.
