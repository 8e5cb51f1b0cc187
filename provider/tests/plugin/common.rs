//! Starting the binary, reading its handshake line and connecting to its socket.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rack_provider::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use rack_provider::protocol::proto::grpc_health_v1::HealthCheckRequest;
use rack_provider::protocol::proto::grpc_health_v1::health_check_response::ServingStatus;
use rack_provider::protocol::proto::grpc_health_v1::health_client::HealthClient;
use rack_provider::protocol::proto::plugin::Empty;
use rack_provider::protocol::proto::plugin::grpc_controller_client::GrpcControllerClient;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// How long the binary may take to print its handshake or to exit.
pub const WAIT: Duration = Duration::from_secs(30);

pub const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-rack");

/// A command for the binary with none of the host's variables set.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for key in [
        MAGIC_COOKIE_KEY,
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_CLIENT_CERT",
        "PLUGIN_UNIX_SOCKET_DIR",
    ] {
        cmd.env_remove(key);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// The six fields of the handshake line.
#[derive(Debug)]
pub struct Handshake {
    pub fields: Vec<String>,
    pub socket: PathBuf,
}

/// Starts the binary as a host would, in `socket_dir`, and reads its handshake line.
pub async fn start(
    socket_dir: &std::path::Path,
    client_cert_pem: Option<&str>,
) -> Result<(Child, Handshake), Box<dyn std::error::Error>> {
    let mut cmd = command();
    cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir);
    if let Some(pem) = client_cert_pem {
        cmd.env("PLUGIN_CLIENT_CERT", pem);
    }
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().ok_or("No stdout pipe")?;
    let mut line = String::new();
    tokio::time::timeout(WAIT, BufReader::new(stdout).read_line(&mut line))
        .await
        .map_err(|_| "The binary printed no handshake line in time")??;
    let line = line
        .strip_suffix('\n')
        .ok_or("Handshake line has no newline")?;
    let fields: Vec<String> = line.split('|').map(str::to_owned).collect();
    if fields.len() != 6 {
        return Err(format!("Handshake line {line:?} has not 6 fields").into());
    }
    let socket = PathBuf::from(&fields[3]);
    Ok((child, Handshake { fields, socket }))
}

/// Waits for the process to exit and returns its exit code.
pub async fn exit_code(child: &mut Child) -> Result<Option<i32>, Box<dyn std::error::Error>> {
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .map_err(|_| "The binary did not exit in time")??;
    Ok(status.code())
}

/// Asks the health service about `service` and expects SERVING.
pub async fn assert_serving(channel: &Channel, service: &str) -> TestResult {
    let answer = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?
        .into_inner();
    assert_eq!(answer.status(), ServingStatus::Serving);
    Ok(())
}

/// Asks the plugin to shut down (go-plugin's controller) and expects exit code 0.
pub async fn shutdown_exits_0(channel: Channel, child: &mut Child) -> TestResult {
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await?;
    assert_eq!(exit_code(child).await?, Some(0));
    Ok(())
}
