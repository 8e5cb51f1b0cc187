//! The list-resource RPCs: validate, and the streamed list of `terraform query`.

use super::*;

/// How many list items may wait to be sent before the list resource is paused; keeps memory
/// flat when Terraform reads slower than a backend answers.
const LIST_BUFFER: usize = 64;

impl ProviderService {
    pub(super) async fn serve_list_resource(
        &self,
        req: pb::list_resource::Request,
    ) -> BoxStream<pb::list_resource::Event> {
        let error_stream = |d: Diagnostics| -> BoxStream<pb::list_resource::Event> {
            let event = pb::list_resource::Event {
                diagnostic: toproto::diagnostics(d),
                ..Default::default()
            };
            Box::pin(futures::stream::iter([Ok(event)]))
        };
        let Some(l) = self.lists.get(req.type_name.as_str()) else {
            return error_stream(unknown_type("list resource", &req.type_name));
        };
        let Some(r) = self.resources.get(req.type_name.as_str()) else {
            return error_stream(unknown_type("resource", &req.type_name));
        };
        let Some((_, identity_ty)) = r.identity.clone() else {
            return error_stream(unsupported("Listing a resource without identity"));
        };
        let config = match decode(req.config.as_ref(), &l.ty, "list configuration") {
            Ok(c) => c,
            Err(d) => return error_stream(d),
        };
        let (tx, mut rx) = mpsc::channel(LIST_BUFFER);
        let imp = l.imp.clone();
        let ctx = self.context().await;
        let request = ListRequest {
            config,
            include_resource: req.include_resource_object,
            limit: req.limit,
        };
        tokio::spawn(async move { imp.list(&ctx, request, ListSink(tx)).await });
        let resource_ty = r.ty.clone();
        let limit = usize::try_from(req.limit).ok().filter(|l| *l > 0);
        async_stream(
            move |out: mpsc::Sender<Result<pb::list_resource::Event, Status>>| async move {
                let mut sent = 0usize;
                while let Some(item) = rx.recv().await {
                    let event = match item {
                        Err(d) => pb::list_resource::Event {
                            diagnostic: vec![toproto::diagnostic(&d)],
                            ..Default::default()
                        },
                        Ok(item) => {
                            let encoded =
                                identity_data(&item.identity, &identity_ty).and_then(|id| {
                                    let obj = item
                                        .resource
                                        .as_ref()
                                        .map(|v| encode(v, &resource_ty, "listed resource"))
                                        .transpose()?;
                                    Ok((id, obj))
                                });
                            match encoded {
                                Ok((identity, resource_object)) => {
                                    sent += 1;
                                    pb::list_resource::Event {
                                        identity: Some(identity),
                                        display_name: item.display_name,
                                        resource_object,
                                        diagnostic: Vec::new(),
                                    }
                                }
                                Err(d) => pb::list_resource::Event {
                                    diagnostic: toproto::diagnostics(d),
                                    ..Default::default()
                                },
                            }
                        }
                    };
                    if out.send(Ok(event)).await.is_err() {
                        break;
                    }
                    if limit.is_some_and(|l| sent >= l) {
                        break;
                    }
                }
            },
        )
    }

    pub(super) async fn serve_validate_list_resource_config(
        &self,
        req: pb::validate_list_resource_config::Request,
    ) -> Diagnostics {
        validate_entry(
            &self.lists,
            ("list resource", "list configuration"),
            &req.type_name,
            req.config.as_ref(),
        )
        .await
    }
}

/// A stream fed by a task: `body` gets the sending half and runs until done.
fn async_stream<T, F, Fut>(body: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(LIST_BUFFER);
    tokio::spawn(body(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
