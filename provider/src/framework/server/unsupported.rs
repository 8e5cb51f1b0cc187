//! RPCs of protocol 6 that rack does not offer (state storage, actions): each answers
//! with one diagnostic saying so.

use super::*;

impl ProviderService {
    pub(super) async fn serve_validate_state_store_config(
        &self,
        _req: Request<pb::validate_state_store::Request>,
    ) -> RpcResult<pb::validate_state_store::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_configure_state_store(
        &self,
        _req: Request<pb::configure_state_store::Request>,
    ) -> RpcResult<pb::configure_state_store::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_read_state_bytes(
        &self,
        _req: Request<pb::read_state_bytes::Request>,
    ) -> RpcResult<BoxStream<pb::read_state_bytes::Response>> {
        let event = pb::read_state_bytes::Response {
            diagnostics: toproto::diagnostics(unsupported("State storage")),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(event)]))))
    }

    pub(super) async fn serve_write_state_bytes(
        &self,
        _req: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> RpcResult<pb::write_state_bytes::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_lock_state(
        &self,
        _req: Request<pb::lock_state::Request>,
    ) -> RpcResult<pb::lock_state::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_unlock_state(
        &self,
        _req: Request<pb::unlock_state::Request>,
    ) -> RpcResult<pb::unlock_state::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_get_states(
        &self,
        _req: Request<pb::get_states::Request>,
    ) -> RpcResult<pb::get_states::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_delete_state(
        &self,
        _req: Request<pb::delete_state::Request>,
    ) -> RpcResult<pb::delete_state::Response> {
        answer(unsupported("State storage"))
    }

    pub(super) async fn serve_plan_action(
        &self,
        _req: Request<pb::plan_action::Request>,
    ) -> RpcResult<pb::plan_action::Response> {
        answer(unsupported("Actions"))
    }

    pub(super) async fn serve_invoke_action(
        &self,
        _req: Request<pb::invoke_action::Request>,
    ) -> RpcResult<BoxStream<pb::invoke_action::Event>> {
        let event = pb::invoke_action::Event {
            r#type: Some(pb::invoke_action::event::Type::Completed(
                pb::invoke_action::event::Completed {
                    diagnostics: toproto::diagnostics(unsupported("Actions")),
                },
            )),
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(event)]))))
    }

    pub(super) async fn serve_validate_action_config(
        &self,
        _req: Request<pb::validate_action_config::Request>,
    ) -> RpcResult<pb::validate_action_config::Response> {
        answer(unsupported("Actions"))
    }
}
