//! Reading image filesystems: layer tar streams, whiteouts, the merged view.
pub mod entry;
pub use entry::{Entry, EntryKind, ImagePath, LayerEvent, PathError};
