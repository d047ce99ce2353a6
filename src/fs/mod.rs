//! Reading image filesystems: layer tar streams, whiteouts, the merged view.
pub mod ahead;
pub mod entry;
pub mod listing;
pub mod merge;
pub mod read;
pub mod tar_strict;
pub use entry::{Entry, EntryKind, ImagePath, LayerEvent, PathError};
pub use merge::{CaptureSet, MergeError, MergedTree, Node, load_tree};
pub use read::{LayerStats, ReadError, ReadOptions, read_layer};
