//! The `ironhull` command: a thin shell over the library (see `cli/`).

mod cli;

fn main() {
    restore_default_sigpipe();
    std::process::exit(cli::main());
}

/// Rust ignores SIGPIPE, so `ironhull audit … | head` would turn the closed
/// pipe into a panic in `println!`. Unix tools die quietly instead; restore
/// that default.
fn restore_default_sigpipe() {
    // SAFETY: called once at the start of `main`, before any thread exists;
    // `signal` with SIG_DFL only resets the disposition of SIGPIPE and touches
    // no Rust-managed memory.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
