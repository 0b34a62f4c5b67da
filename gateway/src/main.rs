fn main() -> std::process::ExitCode {
    common::service::run_main(gateway::SERVICE, gateway::Config::from_env, gateway::run)
}
