//! Reading image filesystems: layer tar streams, whiteouts, the merged view.
pub mod ahead;
pub mod entry;
mod entry_checks;
pub mod listing;
pub mod load;
pub mod merge;
pub mod read;
mod read_error;
mod tar_error;
mod tar_header;
pub mod tar_strict;
pub use entry::{Entry, EntryKind, ImagePath, LayerEvent, PathError};
pub use load::load_tree;
pub use merge::{CaptureSet, MergeError, MergedTree, Node};
pub use read::{LayerStats, ReadError, ReadOptions, read_layer};
