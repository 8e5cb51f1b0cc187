//! The data-source RPCs: validate and read.

use super::*;

impl ProviderService {
    pub(super) async fn serve_validate_data_resource_config(
        &self,
        req: pb::validate_data_resource_config::Request,
    ) -> Diagnostics {
        validate_entry(
            &self.data_sources,
            ("data source", "configuration"),
            &req.type_name,
            req.config.as_ref(),
        )
        .await
    }

    pub(super) async fn serve_read_data_source(
        &self,
        req: pb::read_data_source::Request,
    ) -> Result<pb::read_data_source::Response, Diagnostics> {
        let d = self
            .data_sources
            .get(req.type_name.as_str())
            .ok_or_else(|| unknown_type("data source", &req.type_name))?;
        let config = decode(req.config.as_ref(), &d.ty, "configuration")?;
        let ctx = self.context().await;
        let (state, diags) = d.imp.read(&ctx, config).await;
        let state = if diags.has_errors() && state.is_null() {
            None
        } else {
            Some(encode(&state, &d.ty, "data source state")?)
        };
        Ok(pb::read_data_source::Response {
            state,
            diagnostics: toproto::diagnostics(diags),
            deferred: None,
        })
    }
}
