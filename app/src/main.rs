//! `streamloom`: opens the editor, or runs a graph headless with `--headless`.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (its place in `mi_option_e`, `mimalloc.h`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system after 100 ms (10 ms × the arena multiplier of 10)
/// instead of 10 s: a run that frees as fast as it allocates keeps a smaller peak.
fn return_freed_memory_promptly() {
    // SAFETY: sets one integer option, which mimalloc reads atomically whenever it purges;
    // no pointer is involved.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10)
    };
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    let cli = streamloom::cli::Cli::parse();
    match streamloom::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
