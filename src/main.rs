//! `relance`: see `relance --help`.

fn main() -> std::process::ExitCode {
    relance::cli::main()
}
