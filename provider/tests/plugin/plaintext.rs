//! Without AutoMTLS: plain h2 over the unix socket.

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::common::{TestResult, assert_serving, exit_code, shutdown_exits_0, start};

async fn connect(socket: std::path::PathBuf) -> Result<Channel, Box<dyn std::error::Error>> {
    let channel = Endpoint::try_from("http://localhost")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await?;
    Ok(channel)
}

#[tokio::test]
async fn health_then_shutdown_exits_0() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut child, hs) = start(dir.path(), None).await?;
    assert_eq!(hs.fields[0], "1");
    assert_eq!(hs.fields[1], "6");
    assert_eq!(hs.fields[2], "unix");
    assert_eq!(hs.fields[4], "grpc");
    assert_eq!(hs.fields[5], "");
    assert!(hs.socket.starts_with(dir.path()));

    // Terraform forwards Ctrl-C to the process group: the plugin must live on.
    let pid = child.id().ok_or("No pid")?;
    let kill = tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await?;
    assert!(kill.success());

    let channel = connect(hs.socket.clone()).await?;
    for service in ["plugin", ""] {
        assert_serving(&channel, service).await?;
    }
    shutdown_exits_0(channel, &mut child).await?;
    let socket_dir = hs.socket.parent().ok_or("Socket has no parent")?;
    assert!(
        !socket_dir.exists(),
        "{} was left behind",
        socket_dir.display()
    );
    Ok(())
}

#[tokio::test]
async fn sigterm_exits_0() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut child, hs) = start(dir.path(), None).await?;
    let pid = child.id().ok_or("No pid")?;
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    assert!(kill.success());
    assert_eq!(exit_code(&mut child).await?, Some(0));
    assert!(!hs.socket.exists());
    Ok(())
}
