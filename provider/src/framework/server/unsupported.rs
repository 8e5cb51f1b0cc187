//! RPCs of protocol 6 that rack does not offer (state storage, actions): each answers
//! with one diagnostic saying so.

use super::*;

impl ProviderService {
    /// Every unary state-storage RPC.
    pub(super) async fn serve_state_storage<R>(&self, _req: R) -> Diagnostics {
        unsupported("State storage")
    }

    /// Every unary action RPC.
    pub(super) async fn serve_actions<R>(&self, _req: R) -> Diagnostics {
        unsupported("Actions")
    }

    pub(super) async fn serve_read_state_bytes(
        &self,
        _req: pb::read_state_bytes::Request,
    ) -> BoxStream<pb::read_state_bytes::Response> {
        let event = pb::read_state_bytes::Response {
            diagnostics: toproto::diagnostics(unsupported("State storage")),
            ..Default::default()
        };
        Box::pin(futures::stream::iter([Ok(event)]))
    }

    pub(super) async fn serve_invoke_action(
        &self,
        _req: pb::invoke_action::Request,
    ) -> BoxStream<pb::invoke_action::Event> {
        let event = pb::invoke_action::Event {
            r#type: Some(pb::invoke_action::event::Type::Completed(
                pb::invoke_action::event::Completed {
                    diagnostics: toproto::diagnostics(unsupported("Actions")),
                },
            )),
        };
        Box::pin(futures::stream::iter([Ok(event)]))
    }
}
