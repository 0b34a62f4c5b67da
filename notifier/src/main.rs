fn main() -> std::process::ExitCode {
    common::service::run_main(notifier::SERVICE, notifier::Config::from_env, notifier::run)
}
