fn main() -> std::process::ExitCode {
    common::service::run_main(
        fulfillment::SERVICE,
        fulfillment::Config::from_env,
        fulfillment::run,
    )
}
