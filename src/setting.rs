//! What every setting is made of, whatever the command: a value as written ([`Parsed`], read
//! through its type's `FromStr` by clap and by serde alike) and the one merge of two sources
//! ([`Merge`], and [`merge_fields!`] for a struct of settings: flags over `serve`'s file).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A setting's value as the user wrote it, parsed by `T`'s `FromStr`. A flag (clap's value
/// parser goes through [`Parsed`]'s `FromStr`) and a file key (its `Deserialize` reads a string
/// and parses it the same way) give the same `Parsed`. A value that does not parse is kept with its
/// problem rather than stopping there, so that resolution lists it beside every other problem, the
/// flags' as much as the file's, and a flag that overrides a bad file value leaves no problem.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<T> {
    Valid(T),
    Invalid { text: String, problem: String },
}

impl<T: FromStr> Parsed<T>
where
    T::Err: fmt::Display,
{
    pub fn new(text: &str) -> Parsed<T> {
        match text.parse() {
            Ok(value) => Parsed::Valid(value),
            Err(problem) => Parsed::Invalid {
                text: text.to_owned(),
                problem: problem.to_string(),
            },
        }
    }
}

impl<T> Parsed<T> {
    /// The value, or `None` with a problem that names the setting: `{name} = "text": problem`.
    pub fn check(self, name: &str, problems: &mut Vec<String>) -> Option<T> {
        match self {
            Parsed::Valid(value) => Some(value),
            Parsed::Invalid { text, problem } => {
                problems.push(format!("{name} = {text:?}: {problem}"));
                None
            }
        }
    }
}

/// A setting's value where it was given and parses, `default` where it was not given; a value
/// that does not parse is a problem naming the setting (and `default` stands in for it, so that
/// the rest of the config is still checked).
pub fn value_or<T>(
    setting: Option<Parsed<T>>,
    name: &str,
    default: T,
    problems: &mut Vec<String>,
) -> T {
    match setting {
        None => default,
        Some(parsed) => parsed.check(name, problems).unwrap_or(default),
    }
}

impl<T> From<T> for Parsed<T> {
    fn from(value: T) -> Parsed<T> {
        Parsed::Valid(value)
    }
}

/// clap's value parser: every string is a `Parsed`, the problem (if any) comes later.
impl<T: FromStr> FromStr for Parsed<T>
where
    T::Err: fmt::Display,
{
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Parsed<T>, Infallible> {
        Ok(Parsed::new(text))
    }
}

/// A file key: a string, parsed as a flag is (anything but a string is a type error).
impl<'de, T: FromStr> Deserialize<'de> for Parsed<T>
where
    T::Err: fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Parsed<T>, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Parsed::new(&text))
    }
}

/// One setting from two sources: `self` where it was given, else `fallback`.
pub trait Merge {
    fn merge(self, fallback: Self) -> Self;
}

impl<T> Merge for Option<T> {
    fn merge(self, fallback: Option<T>) -> Option<T> {
        self.or(fallback)
    }
}

/// A switch (`--tail.poll`) is on when either source turns it on: a flag cannot be given as off.
impl Merge for bool {
    fn merge(self, fallback: bool) -> bool {
        self || fallback
    }
}

/// A list (`--tail.path`, repeatable) replaces the other source's when given.
impl<T> Merge for Vec<T> {
    fn merge(self, fallback: Vec<T>) -> Vec<T> {
        if self.is_empty() {
            fallback
        } else {
            self
        }
    }
}

impl<K, V> Merge for BTreeMap<K, V> {
    fn merge(self, fallback: BTreeMap<K, V>) -> BTreeMap<K, V> {
        if self.is_empty() {
            fallback
        } else {
            self
        }
    }
}

/// `impl Merge` for a struct of settings, field by field. Every field must be listed: a field
/// left out is a compile error (the struct literal misses it), so a new setting is merged too.
macro_rules! merge_fields {
    ($name:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::setting::Merge for $name {
            fn merge(self, fallback: $name) -> $name {
                $name {
                    $($field: $crate::setting::Merge::merge(self.$field, fallback.$field)),+
                }
            }
        }
    };
}
pub(crate) use merge_fields;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Two {
        number: Option<u32>,
        switch: bool,
        list: Vec<u8>,
    }
    merge_fields!(Two {
        number,
        switch,
        list
    });

    #[test]
    fn merge_takes_each_given_setting_from_the_first_source() {
        let flags = Two {
            number: Some(1),
            switch: false,
            list: Vec::new(),
        };
        let file = Two {
            number: Some(2),
            switch: true,
            list: vec![7],
        };
        assert_eq!(
            flags.merge(file),
            Two {
                number: Some(1),
                switch: true,
                list: vec![7]
            }
        );
        assert_eq!(Two::default().merge(Two::default()), Two::default());
    }

    #[test]
    fn a_value_that_does_not_parse_is_a_problem_naming_the_setting() {
        let mut problems = Vec::new();
        let bad: Parsed<u8> = "300".parse().unwrap_or_else(|never| match never {});
        assert_eq!(value_or(Some(bad), "web.x", 5, &mut problems), 5);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("web.x = \"300\": number too large"),
            "{problems:?}"
        );
        assert_eq!(
            value_or(Some(Parsed::new("7")), "web.x", 5, &mut problems),
            7
        );
        assert_eq!(value_or(None, "web.x", 5, &mut problems), 5);
        assert_eq!(problems.len(), 1);
        let from_file: Parsed<u8> = toml::Value::String("9".into()).try_into().unwrap();
        assert_eq!(from_file, Parsed::Valid(9));
        let not_a_string = Parsed::<u8>::deserialize(toml::Value::Integer(9)).unwrap_err();
        assert!(
            not_a_string.to_string().contains("expected a string"),
            "{not_a_string}"
        );
    }
}
