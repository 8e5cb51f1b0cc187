//! The services every go-plugin server offers besides the provider: health, controller,
//! stdio and broker.

use std::pin::Pin;

use futures::{Stream, StreamExt as _, stream};
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use crate::protocol::proto::grpc_health_v1::health_check_response::ServingStatus;
use crate::protocol::proto::grpc_health_v1::health_server::{Health, HealthServer};
use crate::protocol::proto::grpc_health_v1::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use crate::protocol::proto::plugin::grpc_broker_server::{GrpcBroker, GrpcBrokerServer};
use crate::protocol::proto::plugin::grpc_controller_server::{
    GrpcController, GrpcControllerServer,
};
use crate::protocol::proto::plugin::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};
use crate::protocol::proto::plugin::{ConnInfo, Empty, StdioData};

/// The service name go-plugin hosts ask the health service about.
pub const HEALTH_SERVICE_NAME: &str = "plugin";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Tells every part of the server that it is time to stop. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self {
            tx: watch::channel(false).0,
        }
    }

    /// Starts the shutdown; later calls do nothing more.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the shutdown has started.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // The sender lives in `self`'s clones; if all are gone, nobody can stop us but
            // the end of the process, so treat that as a shutdown too.
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }

    /// A stream that yields nothing and ends at shutdown.
    fn until_shutdown<T: Send + 'static>(&self) -> BoxStream<T> {
        Box::pin(stream::once(self.wait()).filter_map(|()| async { None }))
    }
}

/// `grpc.health.v1.Health`: SERVING for go-plugin's "plugin" service and for the server
/// as a whole ("").
#[derive(Debug, Clone)]
pub struct HealthService {
    shutdown: Shutdown,
}

impl HealthService {
    fn status(service: &str) -> Option<ServingStatus> {
        (service.is_empty() || service == HEALTH_SERVICE_NAME).then_some(ServingStatus::Serving)
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        match Self::status(&service) {
            Some(status) => Ok(Response::new(HealthCheckResponse {
                status: status.into(),
            })),
            None => Err(Status::not_found(format!("Unknown service {service:?}"))),
        }
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        let serving = HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        };
        let statuses = [String::new(), HEALTH_SERVICE_NAME.to_string()]
            .into_iter()
            .map(|name| (name, serving))
            .collect();
        Ok(Response::new(HealthListResponse { statuses }))
    }

    type WatchStream = BoxStream<HealthCheckResponse>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let status =
            Self::status(&request.into_inner().service).unwrap_or(ServingStatus::ServiceUnknown);
        let first = stream::once(async move {
            Ok(HealthCheckResponse {
                status: status.into(),
            })
        });
        Ok(Response::new(Box::pin(
            first.chain(self.shutdown.until_shutdown()),
        )))
    }
}

/// `plugin.GRPCController`: the host's request to stop the process.
#[derive(Debug, Clone)]
pub struct ControllerService {
    shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcController for ControllerService {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by the host");
        self.shutdown.trigger();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: we log to stderr directly, so the stream carries nothing; it stays
/// open until shutdown, as go-plugin's does.
#[derive(Debug, Clone)]
pub struct StdioService {
    shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcStdio for StdioService {
    type StreamStdioStream = BoxStream<StdioData>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(self.shutdown.until_shutdown()))
    }
}

/// `plugin.GRPCBroker`: we offer no brokered services, so the host's messages are read and
/// dropped; the answer stream ends when the host's ends or at shutdown.
#[derive(Debug, Clone)]
pub struct BrokerService {
    shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcBroker for BrokerService {
    type StartStreamStream = BoxStream<ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut incoming = request.into_inner();
        let stopped = self.shutdown.wait();
        let drain = async move {
            tokio::select! {
                () = stopped => {}
                () = async { while let Some(Ok(info)) = incoming.next().await {
                    tracing::trace!(service_id = info.service_id, "ignoring broker message");
                } } => {}
            }
        };
        Ok(Response::new(Box::pin(
            stream::once(drain).filter_map(|()| async { None }),
        )))
    }
}

/// The four services, ready to add to a tonic server.
#[derive(Debug)]
pub struct PluginServices {
    /// `grpc.health.v1.Health`.
    pub health: HealthServer<HealthService>,
    /// `plugin.GRPCController`.
    pub controller: GrpcControllerServer<ControllerService>,
    /// `plugin.GRPCStdio`.
    pub stdio: GrpcStdioServer<StdioService>,
    /// `plugin.GRPCBroker`.
    pub broker: GrpcBrokerServer<BrokerService>,
}

impl PluginServices {
    /// The services, all stopping with `shutdown`.
    pub fn new(shutdown: &Shutdown) -> Self {
        Self {
            health: HealthServer::new(HealthService {
                shutdown: shutdown.clone(),
            }),
            controller: GrpcControllerServer::new(ControllerService {
                shutdown: shutdown.clone(),
            }),
            stdio: GrpcStdioServer::new(StdioService {
                shutdown: shutdown.clone(),
            }),
            broker: GrpcBrokerServer::new(BrokerService {
                shutdown: shutdown.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn health_answers_serving_for_plugin_and_empty() -> Result<(), Status> {
        let health = HealthService {
            shutdown: Shutdown::new(),
        };
        for name in ["plugin", ""] {
            let answer = health
                .check(Request::new(HealthCheckRequest {
                    service: name.into(),
                }))
                .await?
                .into_inner();
            assert_eq!(answer.status(), ServingStatus::Serving);
        }
        let unknown = health
            .check(Request::new(HealthCheckRequest {
                service: "other".into(),
            }))
            .await;
        assert_eq!(
            unknown.map_err(|s| s.code()).err(),
            Some(tonic::Code::NotFound)
        );
        Ok(())
    }

    #[tokio::test]
    async fn controller_triggers_shutdown_and_stdio_ends() -> Result<(), Status> {
        let shutdown = Shutdown::new();
        let stdio = StdioService {
            shutdown: shutdown.clone(),
        };
        let mut stream = stdio.stream_stdio(Request::new(())).await?.into_inner();
        let controller = ControllerService {
            shutdown: shutdown.clone(),
        };
        assert!(!shutdown.is_triggered());
        controller.shutdown(Request::new(Empty {})).await?;
        assert!(shutdown.is_triggered());
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next()).await;
        assert!(matches!(next, Ok(None)));
        Ok(())
    }
}
