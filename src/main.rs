//! The `ironhull` command: a thin shell over the library (see `cli/`).
// (cli being integrated)
fn main() {}
