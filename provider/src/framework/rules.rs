//! The rules an attribute carries in its schema: plan modifiers and validators. They
//! sit below the schema: `schema` holds them without importing `plan` or `validate`,
//! which import the schema to run them over all its attributes.

use crate::framework::diag::{AttributePath, Diagnostics};
use crate::protocol::value::Value;

/// What a plan modifier sees of one attribute.
#[derive(Debug)]
pub struct AttributePlanRequest<'a> {
    /// Where the attribute is.
    pub path: &'a AttributePath,
    /// Its configured value.
    pub config: &'a Value,
    /// Its value in prior state (null when the resource is being created).
    pub prior: &'a Value,
    /// Whether the resource exists already (prior state is not null).
    pub resource_exists: bool,
}

/// The plan of one attribute, as modifiers change it.
#[derive(Debug)]
pub struct AttributePlan {
    /// The planned value.
    pub value: Value,
    /// Set when a change of this attribute replaces the resource.
    pub requires_replace: bool,
    /// Problems found.
    pub diags: Diagnostics,
}

/// A rule applied to an attribute while planning.
pub trait PlanModifier: Send + Sync {
    /// Markdown description, shown in the generated docs.
    fn description(&self) -> String;
    /// Adjusts the plan of one attribute.
    fn modify(&self, req: &AttributePlanRequest<'_>, plan: &mut AttributePlan);
}

/// A change of the attribute replaces the resource.
#[derive(Clone, Copy, Debug)]
pub struct RequiresReplace;

impl PlanModifier for RequiresReplace {
    fn description(&self) -> String {
        "Changing this value replaces the resource.".into()
    }

    fn modify(&self, req: &AttributePlanRequest<'_>, plan: &mut AttributePlan) {
        if req.resource_exists && plan.value != *req.prior {
            plan.requires_replace = true;
        }
    }
}

/// Keeps the prior state's value instead of "known after apply" for a computed attribute
/// that does not change once set.
#[derive(Clone, Copy, Debug)]
pub struct UseStateForUnknown;

impl PlanModifier for UseStateForUnknown {
    fn description(&self) -> String {
        "Once set, the value is kept across updates.".into()
    }

    fn modify(&self, req: &AttributePlanRequest<'_>, plan: &mut AttributePlan) {
        if req.prior.is_null() || !plan.value.is_unknown() || req.config.is_unknown() {
            return;
        }
        plan.value = req.prior.clone();
    }
}

/// A check of one configured value.
pub trait Validator: Send + Sync {
    /// Markdown description, shown in the generated docs.
    fn description(&self) -> String;
    /// Checks `value`, which is known and not null; adds diagnostics at `path`.
    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics);
}
