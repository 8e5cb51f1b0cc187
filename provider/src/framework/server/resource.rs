//! The managed-resource RPCs: validate, upgrade, read, plan, apply, import, identity.

use super::*;

/// Write-only attributes set in `config` while the client cannot handle them.
fn write_only_set(
    block: &Block,
    config: &Value,
    path: &AttributePath,
    out: &mut Vec<AttributePath>,
) {
    for a in &block.attributes {
        let Some(v) = config.attr(&a.name) else {
            continue;
        };
        let p = path.join_attr(&a.name);
        if a.write_only && !v.is_null() {
            out.push(p);
        } else if let AttributeType::Nested { attributes, .. } = &a.ty
            && let Value::Object(_) = v
        {
            let inner = Block {
                attributes: attributes.clone(),
                ..Block::default()
            };
            write_only_set(&inner, v, &p, out);
        }
    }
}

/// Removes from stored state JSON the attributes the current schema no longer has, so a
/// state written by an older provider of the same schema version still decodes.
fn prune_json(v: serde_json::Value, ty: &Type) -> serde_json::Value {
    use serde_json::Value as J;
    match (v, ty) {
        (J::Object(map), Type::Object { attributes, .. }) => J::Object(
            map.into_iter()
                .filter_map(|(k, v)| attributes.get(&k).map(|t| (k, prune_json(v, t))))
                .collect(),
        ),
        (J::Array(items), Type::List(t) | Type::Set(t)) => {
            J::Array(items.into_iter().map(|i| prune_json(i, t)).collect())
        }
        (J::Object(map), Type::Map(t)) => J::Object(
            map.into_iter()
                .map(|(k, v)| (k, prune_json(v, t)))
                .collect(),
        ),
        (v, _) => v,
    }
}

impl ProviderService {
    pub(super) async fn serve_apply_resource_change(
        &self,
        req: pb::apply_resource_change::Request,
    ) -> Result<pb::apply_resource_change::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), &r.ty, "prior state")?;
        let planned = decode(req.planned_state.as_ref(), &r.ty, "planned state")?;
        let config = decode(req.config.as_ref(), &r.ty, "configuration")?;
        let private = private(&req.planned_private)?;
        let planned_identity = match &r.identity {
            Some((_, ty)) => fromproto::identity(req.planned_identity.as_ref(), ty)
                .map_err(|e| decode_error("planned identity", &e))?,
            None => None,
        };
        let ctx = self.context().await;
        let mut result = if planned.is_null() {
            let timeout = operation_timeout(&prior, "delete");
            let fut = r.imp.delete(
                &ctx,
                DeleteRequest {
                    prior: prior.clone(),
                    private: private.clone(),
                    timeout,
                },
            );
            let diags = with_timeout(timeout, "delete", fut)
                .await
                .unwrap_or_else(|d| d);
            // When delete failed, the object still exists: keep it in state.
            let state = if diags.has_errors() {
                prior.clone()
            } else {
                Value::Null
            };
            StateResult {
                state,
                private,
                identity: None,
                diags,
            }
        } else {
            let creating = prior.is_null();
            let op = if creating { "create" } else { "update" };
            let timeout = operation_timeout(&planned, op);
            let request = ApplyRequest {
                config,
                prior: prior.clone(),
                planned,
                private,
                timeout,
            };
            let fut = async {
                if creating {
                    r.imp.create(&ctx, request).await
                } else {
                    r.imp.update(&ctx, request).await
                }
            };
            with_timeout(timeout, op, fut)
                .await
                .unwrap_or_else(|d| StateResult::failed(prior.clone(), d))
        };
        null_write_only(&r.schema.block, &mut result.state);
        let new_identity = match (&r.identity, result.identity.take().or(planned_identity)) {
            (Some((_, ty)), Some(id)) if !result.state.is_null() => Some(identity_data(&id, ty)?),
            _ => None,
        };
        Ok(pb::apply_resource_change::Response {
            new_state: Some(encode(&result.state, &r.ty, "new state")?),
            private: result.private.to_bytes(),
            diagnostics: toproto::diagnostics(result.diags),
            legacy_type_system: false,
            new_identity,
        })
    }

    pub(super) async fn serve_plan_resource_change(
        &self,
        req: pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), &r.ty, "prior state")?;
        let proposed = decode(req.proposed_new_state.as_ref(), &r.ty, "proposed new state")?;
        let config = decode(req.config.as_ref(), &r.ty, "configuration")?;
        let mut change = plan::plan_attributes(&r.schema, &prior, &config, &proposed);
        if !proposed.is_null() && !change.diags.has_errors() {
            let ctx = self.context().await;
            let req = PlanRequest {
                prior: &prior,
                config: &config,
            };
            r.imp.modify_plan(&ctx, req, &mut change).await;
            plan::sort_paths(&mut change.requires_replace);
        }
        let planned_identity = match &r.identity {
            Some((_, ty)) => fromproto::identity(req.prior_identity.as_ref(), ty)
                .map_err(|e| decode_error("prior identity", &e))?
                .map(|id| identity_data(&id, ty))
                .transpose()?,
            None => None,
        };
        Ok(pb::plan_resource_change::Response {
            planned_state: Some(encode(&change.planned, &r.ty, "planned state")?),
            requires_replace: change
                .requires_replace
                .iter()
                .map(toproto::attribute_path)
                .collect(),
            planned_private: req.prior_private,
            diagnostics: toproto::diagnostics(change.diags),
            legacy_type_system: false,
            deferred: None,
            planned_identity,
        })
    }

    pub(super) async fn serve_read_resource(
        &self,
        req: pb::read_resource::Request,
    ) -> Result<pb::read_resource::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let state = decode(req.current_state.as_ref(), &r.ty, "current state")?;
        let private = private(&req.private)?;
        let identity = match &r.identity {
            Some((_, ty)) => fromproto::identity(req.current_identity.as_ref(), ty)
                .map_err(|e| decode_error("current identity", &e))?,
            None => None,
        };
        if state.is_null() {
            return Ok(pb::read_resource::Response {
                new_state: Some(encode(&Value::Null, &r.ty, "state")?),
                private: req.private,
                ..Default::default()
            });
        }
        let ctx = self.context().await;
        let timeout = operation_timeout(&state, "read");
        let fallback = state.clone();
        let mut result = with_timeout(
            timeout,
            "read",
            r.imp.read(
                &ctx,
                ReadRequest {
                    state,
                    private,
                    identity: identity.clone(),
                },
            ),
        )
        .await
        .unwrap_or_else(|d| StateResult::failed(fallback, d));
        null_write_only(&r.schema.block, &mut result.state);
        let new_identity = match (&r.identity, result.identity.take().or(identity)) {
            (Some((_, ty)), Some(id)) if !result.state.is_null() => Some(identity_data(&id, ty)?),
            _ => None,
        };
        Ok(pb::read_resource::Response {
            new_state: Some(encode(&result.state, &r.ty, "state")?),
            diagnostics: toproto::diagnostics(result.diags),
            private: result.private.to_bytes(),
            deferred: None,
            new_identity,
        })
    }

    pub(super) async fn serve_import_resource_state(
        &self,
        req: pb::import_resource_state::Request,
    ) -> Result<pb::import_resource_state::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let request = match (&r.identity, req.identity.as_ref()) {
            (Some((_, ty)), Some(id)) if id.identity_data.is_some() => {
                let v = fromproto::identity(Some(id), ty)
                    .map_err(|e| decode_error("identity", &e))?
                    .unwrap_or(Value::Null);
                ImportRequest::Identity(v)
            }
            (None, Some(id)) if id.identity_data.is_some() => {
                return Err(Diagnostic::error(
                    format!("{} cannot be imported by identity", req.type_name),
                    "Use an import block with `id` instead of `identity`.",
                )
                .into());
            }
            _ => ImportRequest::Id(req.id.clone()),
        };
        let ctx = self.context().await;
        let mut result = r.imp.import(&ctx, request).await;
        if result.diags.has_errors() || result.state.is_null() {
            let mut diags = result.diags;
            if !diags.has_errors() {
                diags.error(
                    format!("Cannot import {} {:?}", req.type_name, req.id),
                    "Nothing with that ID exists. Check the ID's format in the resource's documentation.",
                );
            }
            return Err(diags);
        }
        null_write_only(&r.schema.block, &mut result.state);
        let identity = match (&r.identity, result.identity.take()) {
            (Some((_, ty)), Some(id)) => Some(identity_data(&id, ty)?),
            _ => None,
        };
        Ok(pb::import_resource_state::Response {
            imported_resources: vec![pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(encode(&result.state, &r.ty, "imported state")?),
                private: result.private.to_bytes(),
                identity,
            }],
            diagnostics: toproto::diagnostics(result.diags),
            deferred: None,
        })
    }

    pub(super) async fn serve_upgrade_resource_state(
        &self,
        req: pb::upgrade_resource_state::Request,
    ) -> Result<pb::upgrade_resource_state::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let raw = req.raw_state.unwrap_or_default();
        if raw.json.is_empty() {
            if raw.flatmap.is_empty() {
                return Ok(pb::upgrade_resource_state::Response {
                    upgraded_state: Some(encode(&Value::Null, &r.ty, "state")?),
                    diagnostics: Vec::new(),
                });
            }
            return Err(Diagnostic::error(
                "Cannot read legacy state",
                "This state was written in the flatmap format of Terraform 0.11, which rack never used. Remove the resource from state and import it again.",
            )
            .into());
        }
        let json: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
            Diagnostics::from(Diagnostic::from_error(
                &e,
                "The stored state is not valid JSON. Restore the state file from a backup.",
            ))
        })?;
        let current = r.schema.version;
        let json = if req.version == current {
            json
        } else if req.version < current {
            r.imp
                .upgrade_state(req.version, json)
                .map_err(Diagnostics::from)?
        } else {
            return Err(Diagnostic::error(
                "State was written by a newer provider",
                format!(
                    "{} state has schema version {}, but this provider knows only up to {current}. Use the newer provider version.",
                    req.type_name, req.version
                ),
            )
            .into());
        };
        let pruned = prune_json(json, &r.ty);
        let bytes = serde_json::to_vec(&pruned).unwrap_or_default();
        let value = crate::protocol::json::decode(&bytes, &r.ty)
            .map_err(|e| decode_error("stored state", &e))?;
        Ok(pb::upgrade_resource_state::Response {
            upgraded_state: Some(encode(&value, &r.ty, "upgraded state")?),
            diagnostics: Vec::new(),
        })
    }

    async fn validate_resource_inner(
        &self,
        req: pb::validate_resource_config::Request,
    ) -> Result<Diagnostics, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let config = decode(req.config.as_ref(), &r.ty, "configuration")?;
        let caps: ClientCapabilities =
            fromproto::client_capabilities(req.client_capabilities.as_ref());
        let mut diags = Diagnostics::new();
        if !caps.write_only_attributes_allowed {
            let mut set = Vec::new();
            write_only_set(&r.schema.block, &config, &AttributePath::root(), &mut set);
            for path in set {
                diags.error_at(
                    path,
                    "Write-only attribute not supported by this Terraform",
                    "This attribute is write-only, which needs Terraform 1.11 or later. Upgrade Terraform, or leave the attribute unset.",
                );
            }
        }
        validate_block(&r.schema.block, &config, &AttributePath::root(), &mut diags);
        r.imp.validate(&config, &mut diags).await;
        Ok(diags)
    }
}

impl ProviderService {
    pub(super) async fn serve_validate_resource_config(
        &self,
        req: pb::validate_resource_config::Request,
    ) -> Diagnostics {
        self.validate_resource_inner(req)
            .await
            .unwrap_or_else(|d| d)
    }

    pub(super) async fn serve_get_resource_identity_schemas(
        &self,
        _req: pb::get_resource_identity_schemas::Request,
    ) -> pb::get_resource_identity_schemas::Response {
        pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .resources
                .iter()
                .filter_map(|(k, r)| {
                    r.identity
                        .as_ref()
                        .map(|(s, _)| (k.to_string(), toproto::identity_schema(s)))
                })
                .collect(),
            diagnostics: Vec::new(),
        }
    }

    pub(super) async fn serve_upgrade_resource_identity(
        &self,
        req: pb::upgrade_resource_identity::Request,
    ) -> Result<pb::upgrade_resource_identity::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let Some((schema, ty)) = &r.identity else {
            return Err(unsupported("Resource identity for this type"));
        };
        if req.version != schema.version {
            return Err(Diagnostic::error(
                "Cannot upgrade resource identity",
                format!(
                    "{} identity version {} is not the current version {}. Use the provider version that wrote this state.",
                    req.type_name, req.version, schema.version
                ),
            )
            .into());
        }
        let raw = req.raw_identity.unwrap_or_default();
        let value = crate::protocol::json::decode(&raw.json, ty)
            .map_err(|e| decode_error("stored identity", &e))?;
        Ok(pb::upgrade_resource_identity::Response {
            upgraded_identity: Some(identity_data(&value, ty)?),
            diagnostics: Vec::new(),
        })
    }

    pub(super) async fn serve_move_resource_state(
        &self,
        _req: pb::move_resource_state::Request,
    ) -> Diagnostics {
        unsupported("Moving resource state between types")
    }

    pub(super) async fn serve_generate_resource_config(
        &self,
        _req: pb::generate_resource_config::Request,
    ) -> Diagnostics {
        unsupported("Generating resource configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_drops_attributes_the_schema_lost() {
        let ty = Type::object([
            ("a", Type::String),
            (
                "l",
                Type::List(Box::new(Type::object([("x", Type::String)]))),
            ),
        ]);
        let v = serde_json::json!({"a": "1", "gone": 2, "l": [{"x": "y", "old": true}]});
        assert_eq!(
            prune_json(v, &ty),
            serde_json::json!({"a": "1", "l": [{"x": "y"}]})
        );
    }
}
