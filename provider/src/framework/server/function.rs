//! The provider-function RPCs: definitions and calls.

use super::*;

impl ProviderService {
    pub(super) async fn serve_get_functions(
        &self,
        _req: pb::get_functions::Request,
    ) -> pb::get_functions::Response {
        pb::get_functions::Response {
            functions: self.function_definitions(),
            diagnostics: Vec::new(),
        }
    }

    pub(super) async fn serve_call_function(
        &self,
        req: pb::call_function::Request,
    ) -> pb::call_function::Response {
        let fail = |e: crate::framework::resource::FunctionError| pb::call_function::Response {
            result: None,
            error: Some(toproto::function_error(&e)),
        };
        let Some(f) = self.functions.get(req.name.as_str()) else {
            return fail(crate::framework::resource::FunctionError {
                text: format!("This provider has no function {:?}", req.name),
                argument: None,
            });
        };
        let sig = &f.signature;
        let mut args = Vec::with_capacity(req.arguments.len());
        for (i, a) in req.arguments.iter().enumerate() {
            let param = sig.parameters.get(i).or(sig.variadic.as_ref());
            let Some(param) = param else {
                return fail(crate::framework::resource::FunctionError {
                    text: format!(
                        "Too many arguments: {} takes {}",
                        req.name,
                        sig.parameters.len()
                    ),
                    argument: Some(i),
                });
            };
            match fromproto::dynamic_value(Some(a), &param.ty) {
                Ok(v) => args.push(v),
                Err(e) => {
                    return fail(crate::framework::resource::FunctionError::argument(
                        i,
                        format!("Invalid value for {}: {e}", param.name),
                    ));
                }
            }
        }
        match f.imp.call(args).await {
            Ok(v) => match toproto::dynamic_value(&v, &sig.returns) {
                Ok(result) => pb::call_function::Response {
                    result: Some(result),
                    error: None,
                },
                Err(e) => fail(crate::framework::resource::FunctionError {
                    text: format!(
                        "The function produced an invalid result ({e}); this is a bug in the provider"
                    ),
                    argument: None,
                }),
            },
            Err(e) => fail(e),
        }
    }
}
