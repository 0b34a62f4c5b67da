fn main() -> std::process::ExitCode {
    common::service::run_main(
        agiso_sync::SERVICE,
        agiso_sync::Config::from_env,
        agiso_sync::run,
    )
}
