//! The provider-level RPCs: metadata, schema, provider configuration, stop.

use super::*;

impl ProviderService {
    pub(super) async fn serve_configure_provider(
        &self,
        req: pb::configure_provider::Request,
    ) -> Diagnostics {
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
        _req: pb::get_metadata::Request,
    ) -> pb::get_metadata::Response {
        use pb::get_metadata as m;
        m::Response {
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
        }
    }

    pub(super) async fn serve_get_provider_schema(
        &self,
        _req: pb::get_provider_schema::Request,
    ) -> pb::get_provider_schema::Response {
        self.provider_schema_response()
    }

    pub(super) async fn serve_validate_provider_config(
        &self,
        req: pb::validate_provider_config::Request,
    ) -> Diagnostics {
        match decode(
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
        }
    }

    pub(super) async fn serve_stop_provider(
        &self,
        _req: pb::stop_provider::Request,
    ) -> pb::stop_provider::Response {
        self.stopped.store(true, Ordering::Relaxed);
        pb::stop_provider::Response {
            error: String::new(),
        }
    }
}
