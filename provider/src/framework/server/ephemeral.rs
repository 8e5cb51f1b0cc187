//! The ephemeral-resource RPCs: validate, open, renew, close.

use super::*;

impl ProviderService {
    pub(super) async fn serve_validate_ephemeral_resource_config(
        &self,
        req: pb::validate_ephemeral_resource_config::Request,
    ) -> Diagnostics {
        validate_entry(
            &self.ephemeral,
            ("ephemeral resource", "configuration"),
            &req.type_name,
            req.config.as_ref(),
        )
        .await
    }

    pub(super) async fn serve_open_ephemeral_resource(
        &self,
        req: pb::open_ephemeral_resource::Request,
    ) -> Result<pb::open_ephemeral_resource::Response, Diagnostics> {
        let e = self
            .ephemeral
            .get(req.type_name.as_str())
            .ok_or_else(|| unknown_type("ephemeral resource", &req.type_name))?;
        let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
        let ctx = self.context().await;
        let out = e.imp.open(&ctx, config).await;
        let result = if out.diags.has_errors() {
            None
        } else {
            Some(encode(&out.result, &e.ty, "ephemeral result")?)
        };
        Ok(pb::open_ephemeral_resource::Response {
            diagnostics: toproto::diagnostics(out.diags),
            renew_at: out.renew_at.map(prost_types::Timestamp::from),
            result,
            private: Some(out.private.to_bytes()),
            deferred: None,
        })
    }

    pub(super) async fn serve_renew_ephemeral_resource(
        &self,
        req: pb::renew_ephemeral_resource::Request,
    ) -> Result<pb::renew_ephemeral_resource::Response, Diagnostics> {
        let e = self
            .ephemeral
            .get(req.type_name.as_str())
            .ok_or_else(|| unknown_type("ephemeral resource", &req.type_name))?;
        let private = private(req.private.as_deref().unwrap_or_default())?;
        let ctx = self.context().await;
        let out = e.imp.renew(&ctx, private).await;
        Ok(pb::renew_ephemeral_resource::Response {
            diagnostics: toproto::diagnostics(out.diags),
            renew_at: out.renew_at.map(prost_types::Timestamp::from),
            private: Some(out.private.to_bytes()),
        })
    }

    pub(super) async fn serve_close_ephemeral_resource(
        &self,
        req: pb::close_ephemeral_resource::Request,
    ) -> Diagnostics {
        async {
            let e = self
                .ephemeral
                .get(req.type_name.as_str())
                .ok_or_else(|| unknown_type("ephemeral resource", &req.type_name))?;
            let private = private(req.private.as_deref().unwrap_or_default())?;
            let ctx = self.context().await;
            Ok::<_, Diagnostics>(e.imp.close(&ctx, private).await)
        }
        .await
        .unwrap_or_else(|d| d)
    }
}
