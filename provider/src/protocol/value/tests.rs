use super::*;
use proptest::prelude::*;

fn n(s: &str) -> Number {
    s.parse().unwrap()
}

#[test]
fn type_json_round_trips_cty_spellings() {
    for spec in [
        r#""string""#,
        r#""dynamic""#,
        r#"["list","string"]"#,
        r#"["set",["map","bool"]]"#,
        r#"["object",{"a":"string","b":"number"}]"#,
        r#"["object",{"a":"string","b":"number"},["b"]]"#,
        r#"["tuple",["bool",["list","dynamic"]]]"#,
        r#"["tuple",[]]"#,
    ] {
        let ty = Type::from_json(spec.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), spec);
    }
    let ty = Type::from_json(br#"["object",{"b":"number","a":"string"},["a"]]"#).unwrap();
    assert_eq!(
        ty,
        Type::object([("a", Type::String), ("b", Type::Number)]).with_optional(["a"])
    );
}

#[test]
fn type_json_rejects_nonsense() {
    for spec in [
        r#""strin""#,
        r#"["list"]"#,
        r#"["list","string","x"]"#,
        r#"["object",["a"]]"#,
        r#"["object",{"a":"string"},["b"]]"#,
        r#"["tuple","string"]"#,
        r#"[]"#,
        r#"42"#,
        r#"["list""#,
    ] {
        assert!(Type::from_json(spec.as_bytes()).is_err(), "{spec}");
    }
    let deep = format!("{}\"string\"{}", "[\"list\",".repeat(200), "]".repeat(200));
    assert!(Type::from_json(deep.as_bytes()).is_err());
}

#[test]
fn number_display_is_shortest_exact_decimal() {
    let cases = [
        ("1", "1"),
        ("1.0", "1"),
        ("-0.0", "0"),
        ("12300", "12300"),
        ("1.23e4", "12300"),
        ("-0.25", "-0.25"),
        ("1e-3", "0.001"),
        (".5", "0.5"),
        ("+7", "7"),
        (
            "123456789012345678901234567890.5",
            "123456789012345678901234567890.5",
        ),
        ("inf", "+Inf"),
        ("-Inf", "-Inf"),
    ];
    for (input, shown) in cases {
        assert_eq!(n(input).to_string(), shown, "{input}");
    }
    assert_eq!(Number::try_from(0.5f64).unwrap().to_string(), "0.5");
    assert_eq!(
        Number::try_from(0.1f64).unwrap().to_string(),
        "0.1000000000000000055511151231257827021181583404541015625"
    );
    assert_eq!(
        Number::try_from(1e20f64).unwrap().to_string(),
        "100000000000000000000"
    );
}

#[test]
fn number_rejects_bad_text() {
    for bad in [
        "",
        "-",
        "1.2.3",
        "e5",
        "1e",
        "0x10",
        "1_000",
        "NaN",
        " 1",
        "1e999999999",
    ] {
        assert!(bad.parse::<Number>().is_err(), "{bad:?}");
    }
    assert!(Number::try_from(f64::NAN).is_err());
}

#[test]
fn number_conversions() {
    assert_eq!(n("42").to_i64(), Some(42));
    assert_eq!(n("4.2e1").to_i64(), Some(42));
    assert_eq!(n("4.25").to_i64(), None);
    assert_eq!(n("-1").to_u64(), None);
    assert_eq!(n("18446744073709551615").to_u64(), Some(u64::MAX));
    assert_eq!(n("18446744073709551615").to_i64(), None);
    assert_eq!(n("1e30").to_i64(), None);
    assert!(n("1e30").is_integer());
    assert!(!n("0.5").is_integer());
    assert!(!n("inf").is_integer());
    assert_eq!(n("0.1").to_f64(), 0.1);
    assert_eq!(n("0.1").to_f64_exact(), None);
    assert_eq!(n("0.5").to_f64_exact(), Some(0.5));
    assert_eq!(n("-inf").to_f64_exact(), Some(f64::NEG_INFINITY));
    assert_eq!(n("1e400").to_f64(), f64::INFINITY);
    assert_eq!(n("1"), n("1.000"));
    assert_ne!(n("inf"), n("-inf"));
    assert_eq!(
        Number::try_from(f64::MIN_POSITIVE / 4.0).unwrap().to_f64(),
        f64::MIN_POSITIVE / 4.0
    );
}

#[test]
fn sets_compare_as_sets() {
    let a = Value::Set(vec![Value::from(1), Value::from(2), Value::from(2)]);
    let b = Value::Set(vec![Value::from(2), Value::from(1)]);
    assert_eq!(a, b);
    assert_ne!(a, Value::Set(vec![Value::from(1)]));
    assert_ne!(a, Value::List(vec![Value::from(1), Value::from(2)]));
}

#[test]
fn conforms_checks_shape() {
    let ty =
        Type::object([("a", Type::String), ("b", Type::list(Type::Number))]).with_optional(["b"]);
    assert!(Value::object([("a", "x".into())]).conforms(&ty));
    assert!(Value::object([("a", Value::Unknown), ("b", Value::Null)]).conforms(&ty));
    assert!(!Value::object([("b", Value::Null)]).conforms(&ty));
    assert!(!Value::object([("a", "x".into()), ("c", Value::Null)]).conforms(&ty));
    assert!(!Value::object([("a", Value::from(1))]).conforms(&ty));
    assert!(Value::Null.conforms(&ty));
    let dynamic = Value::Dynamic {
        ty: Type::String,
        value: Box::new("x".into()),
    };
    assert!(dynamic.conforms(&Type::Dynamic));
    assert!(!dynamic.conforms(&Type::String));
    assert!(!Value::from("x").conforms(&Type::Dynamic));
    assert!(!Value::Tuple(vec![]).conforms(&Type::Tuple(vec![Type::Bool])));
}

#[test]
fn error_messages_name_the_path() {
    let err = ValueError::Mismatch {
        path: ValuePath(vec![
            PathStep::Attribute("a".into()),
            PathStep::Index(2),
            PathStep::Key("k".into()),
        ]),
        expected: "a string".into(),
        found: "a bool".into(),
    };
    assert_eq!(
        err.to_string(),
        r#"Expected a string at attribute "a", element 2, key "k", found a bool"#
    );
}

proptest! {
    #[test]
    fn number_text_round_trips(x in arb::number()) {
        prop_assert_eq!(x.to_string().parse::<Number>().unwrap(), x);
    }

    #[test]
    fn f64_round_trips_exactly(f in any::<f64>().prop_filter("not NaN", |f| !f.is_nan())) {
        let x = Number::try_from(f).unwrap();
        prop_assert_eq!(x.to_f64_exact(), Some(f));
    }

    #[test]
    fn generated_values_conform((ty, v) in arb::typed_value(true)) {
        prop_assert!(v.conforms(&ty));
    }

    #[test]
    fn type_json_round_trips(ty in arb::ty()) {
        prop_assert_eq!(Type::from_json(&ty.to_json_bytes()).unwrap(), ty);
    }
}
