//! `relance`: see `relance --help`.

fn main() -> std::process::ExitCode {
    // Output piped into `head` or `less` that closes early ends the program quietly, as
    // command-line tools do, instead of a panic on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    relance::cli::main()
}
