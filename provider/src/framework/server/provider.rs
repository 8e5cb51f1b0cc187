//! The provider-level RPCs: metadata, schema, provider configuration, stop.

use super::*;

impl ProviderService {
    async fn configure_inner(&self, req: pb::configure_provider::Request) -> Diagnostics {
        let mut config = match decode(
            req.config.as_ref(),
            &self.provider_type,
            "provider configuration",
        ) {
            Ok(c) => c,
            Err(d) => return d,
        };
        tracing::info!(terraform_version = %req.terraform_version, "Configuring provider");
        let mut diags = Diagnostics::new();
        let block = &self.provider_schema.block;
        env::apply_env(
            block,
            &mut config,
            &AttributePath::root(),
            &|k| std::env::var(k).ok(),
            &mut diags,
        );
        validate_block(block, &config, &AttributePath::root(), &mut diags);
        if diags.has_errors() {
            return diags;
        }
        let data = self.provider.configure(config, &mut diags).await;
        if !diags.has_errors() {
            *self.data.write().await = data;
        }
        diags
    }

    pub(super) async fn serve_get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        let _log = rpc_span("GetMetadata", "");
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(Self::server_capabilities()),
            diagnostics: Vec::new(),
            data_sources: self
                .data_sources
                .keys()
                .map(|k| m::DataSourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|k| m::ResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            functions: self
                .functions
                .keys()
                .map(|k| m::FunctionMetadata {
                    name: k.to_string(),
                })
                .collect(),
            ephemeral_resources: self
                .ephemeral
                .keys()
                .map(|k| m::EphemeralMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            list_resources: self
                .lists
                .keys()
                .map(|k| m::ListResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            state_stores: Vec::new(),
            actions: Vec::new(),
        }))
    }

    pub(super) async fn serve_get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        let _log = rpc_span("GetProviderSchema", "");
        Ok(Response::new(self.provider_schema_response()))
    }

    pub(super) async fn serve_validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let _log = rpc_span("ValidateProviderConfig", "");
        let req = req.into_inner();
        let diags = match decode(
            req.config.as_ref(),
            &self.provider_type,
            "provider configuration",
        ) {
            Ok(config) => {
                let mut diags = Diagnostics::new();
                validate_block(
                    &self.provider_schema.block,
                    &config,
                    &AttributePath::root(),
                    &mut diags,
                );
                self.provider.validate(&config, &mut diags).await;
                diags
            }
            Err(d) => d,
        };
        answer(diags)
    }

    pub(super) async fn serve_configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let _log = rpc_span("ConfigureProvider", "");
        let diags = self.configure_inner(req.into_inner()).await;
        answer(diags)
    }

    pub(super) async fn serve_stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        let _log = rpc_span("StopProvider", "");
        self.stopped.store(true, Ordering::Relaxed);
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
