//! The framework: schemas, validators, plan rules, diagnostics and the protocol-6 server.
//! Resources, data sources and functions are written against this module and
//! [`crate::protocol::value`], never against protobuf types.

pub mod attrs;
pub mod diag;
pub mod env;
pub mod fromproto;
pub mod plan;
pub mod resource;
pub mod rules;
pub mod schema;
pub mod server;
pub mod timeouts;
pub mod toproto;
pub mod typed;
pub mod validate;

pub use diag::{AttributePath, Diagnostic, Diagnostics, Severity};
pub use resource::{
    ApplyRequest, Context, DataSource, DeleteRequest, EphemeralResource, EphemeralResult, Function,
    FunctionError, FunctionSignature, ImportRequest, ListItem, ListRequest, ListResource, ListSink,
    Parameter, PlanRequest, Private, Provider, ProviderData, ReadRequest, Resource, StateResult,
    data_answer,
};
pub use schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, NestedBlock, Nesting, Schema,
};

#[cfg(test)]
mod server_tests;
