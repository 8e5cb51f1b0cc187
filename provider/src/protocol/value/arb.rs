//! proptest strategies for types and values, and helpers that build values in tests.

use std::collections::BTreeSet;

use bigdecimal::BigDecimal;
use proptest::prelude::*;

use super::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_owned()), Just("b".to_owned()), "[a-z_é]{1,6}"]
}

pub(crate) fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Number::try_from(f).unwrap_or_else(|_| Number::from(0i64))),
        (any::<i64>(), -40i64..40).prop_map(|(d, s)| Number::from(BigDecimal::new(d.into(), s))),
        "-?[0-9]{20,40}(\\.[0-9]{1,30})?".prop_map(|s| s.parse().unwrap_or(Number::from(0i64))),
    ]
}

/// Types of any shape, `dynamic` included at any depth.
pub(crate) fn ty() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        3 => Just(Type::Bool),
        3 => Just(Type::Number),
        3 => Just(Type::String),
        1 => Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Type::Tuple),
            (
                prop::collection::btree_map(name(), inner.clone(), 0..4),
                any::<prop::sample::Index>()
            )
                .prop_map(|(attributes, pick)| {
                    let optional = if attributes.is_empty() {
                        BTreeSet::new()
                    } else {
                        let i = pick.index(attributes.len());
                        attributes.keys().skip(i).take(1).cloned().collect()
                    };
                    Type::Object {
                        attributes,
                        optional,
                    }
                }),
        ]
    })
}

/// A value of `ty`; `unknowns` allows unknown values at any depth.
pub(crate) fn value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
    let known = known_value(ty, unknowns);
    let unknown_weight = u32::from(unknowns);
    prop_oneof![
        1 => Just(Value::Null),
        unknown_weight => Just(Value::Unknown),
        6 => known,
    ]
    .boxed()
}

fn known_value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
    let small = 0..3usize;
    match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => number().prop_map(Value::Number).boxed(),
        Type::String => ".{0,8}".prop_map(Value::String).boxed(),
        Type::Dynamic => ty_leafish()
            .prop_flat_map(move |t| {
                value(&t, unknowns).prop_map(move |v| Value::Dynamic {
                    ty: t.clone(),
                    value: Box::new(v),
                })
            })
            .boxed(),
        Type::List(e) => prop::collection::vec(value(e, unknowns), small)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => prop::collection::vec(value(e, unknowns), small)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => prop::collection::btree_map(name(), value(e, unknowns), small)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(ts) => ts
            .iter()
            .map(|t| value(t, unknowns))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object { attributes, .. } => attributes
            .iter()
            .map(|(k, t)| {
                let k = k.clone();
                value(t, unknowns).prop_map(move |v| (k.clone(), v))
            })
            .collect::<Vec<_>>()
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
            .boxed(),
    }
}

/// Concrete types for dynamic values, kept small.
fn ty_leafish() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::list(Type::String)),
        Just(Type::object([("x", Type::Number), ("y", Type::Dynamic)])),
        Just(Type::Tuple(vec![Type::Bool, Type::map(Type::Number)])),
    ]
}

/// A type and a value conforming to it.
pub(crate) fn typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    ty().prop_flat_map(move |t| value(&t, unknowns).prop_map(move |v| (t.clone(), v)))
}

/// The number written `s`.
pub(crate) fn num(s: &str) -> Value {
    Value::Number(s.parse().unwrap())
}

/// `value` with its concrete type `ty`, as a dynamic value.
pub(crate) fn dynamic(ty: Type, value: Value) -> Value {
    Value::Dynamic {
        ty,
        value: Box::new(value),
    }
}
