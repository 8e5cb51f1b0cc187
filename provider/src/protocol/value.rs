//! TODO(values helper)
