fn main() -> std::process::ExitCode {
    rack_provider::plugin::main()
}
