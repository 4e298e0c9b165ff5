//! Typed plugin configuration: the host hands each plugin its section of the
//! host's own config file as a [`ConfigValue`] tree, and the plugin's
//! `#[plugin(config = T)]` type is deserialized from it with serde.
//!
//! Format-neutral on purpose: the host parses its file (TOML, JSON, …) and
//! converts it; this crate does no IO and depends on no format. Every error
//! names the key it is about, and a key the type does not know is an error.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// A configuration value, as any config format can express it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Array(Vec<ConfigValue>),
    Table(BTreeMap<String, ConfigValue>),
}

/// How to parse one plugin's configuration; built by `#[plugin(config = T)]`.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    /// The type, as written in the attribute.
    pub type_name: &'static str,
    pub parse: fn(&ConfigValue) -> Result<Box<dyn Any + Send + Sync>, ConfigError>,
}

/// Deserializes a `T` from `value`; the `parse` of `#[plugin(config = T)]`.
pub fn parse<T: DeserializeOwned + Send + Sync + 'static>(
    value: &ConfigValue,
) -> Result<Box<dyn Any + Send + Sync>, ConfigError> {
    T::deserialize(Value { value, path: "" })
        .map(|config| Box::new(config) as Box<dyn Any + Send + Sync>)
}

/// Why a configuration section did not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the key inside the plugin's section; empty for the
    /// section itself.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "key `{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl de::Error for ConfigError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        ConfigError {
            key: String::new(),
            message: message.to_string(),
        }
    }
}

/// Gives an error without a key the key it happened at.
fn at(path: &str, mut error: ConfigError) -> ConfigError {
    if error.key.is_empty() {
        error.key = path.to_owned();
    }
    error
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A value being deserialized, with its path for error messages.
#[derive(Clone, Copy)]
struct Value<'a> {
    value: &'a ConfigValue,
    path: &'a str,
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        let result = match self.value {
            ConfigValue::Bool(b) => visitor.visit_bool(*b),
            ConfigValue::Integer(i) => visitor.visit_i64(*i),
            ConfigValue::Float(x) => visitor.visit_f64(*x),
            ConfigValue::String(s) => visitor.visit_str(s),
            ConfigValue::Array(items) => visitor.visit_seq(Seq {
                items: items.iter().enumerate(),
                path: self.path,
            }),
            ConfigValue::Table(table) => visitor.visit_map(Map {
                entries: table.iter(),
                path: self.path,
                value: None,
            }),
        };
        result.map_err(|e| at(self.path, e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        match self.value {
            ConfigValue::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e| at(self.path, e)),
            _ => self.deserialize_any(visitor).map_err(|_| {
                at(
                    self.path,
                    de::Error::custom(format!("expected one of {variants:?} for {name}")),
                )
            }),
        }
    }

    /// Serde asks to ignore a value only for a key the type does not know.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ConfigError> {
        Err(ConfigError {
            key: self.path.to_owned(),
            message: "unknown key".to_owned(),
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier
    }
}

struct Seq<'a, I> {
    items: I,
    path: &'a str,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a ConfigValue)>> de::SeqAccess<'de> for Seq<'a, I> {
    type Error = ConfigError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ConfigError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{index}]", self.path);
        seed.deserialize(Value { value, path: &path })
            .map(Some)
            .map_err(|e| at(&path, e))
    }
}

struct Map<'a, I> {
    entries: I,
    path: &'a str,
    value: Option<(String, &'a ConfigValue)>,
}

impl<'de, 'a, I: Iterator<Item = (&'a String, &'a ConfigValue)>> de::MapAccess<'de> for Map<'a, I> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let path = join(self.path, key);
        self.value = Some((path.clone(), value));
        seed.deserialize(key.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: ConfigError| at(&path, e))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        let (path, value) = self
            .value
            .take()
            .expect("serde asks for a value after its key");
        seed.deserialize(Value { value, path: &path })
            .map_err(|e| at(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Config {
        level: u8,
        #[serde(default)]
        names: Vec<String>,
        inner: Option<Inner>,
        mode: Option<Mode>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Inner {
        on: bool,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Slow,
    }

    fn table(entries: &[(&str, ConfigValue)]) -> ConfigValue {
        ConfigValue::Table(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn check(value: ConfigValue) -> Result<Config, String> {
        parse::<Config>(&value)
            .map(|b| *b.downcast::<Config>().expect("parse makes a Config"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_nested_values() {
        let config = check(table(&[
            ("level", ConfigValue::Integer(3)),
            (
                "names",
                ConfigValue::Array(vec![ConfigValue::String("a".into())]),
            ),
            ("inner", table(&[("on", ConfigValue::Bool(true))])),
            ("mode", ConfigValue::String("slow".into())),
        ]))
        .unwrap();
        assert_eq!(
            config,
            Config {
                level: 3,
                names: vec!["a".into()],
                inner: Some(Inner { on: true }),
                mode: Some(Mode::Slow),
            }
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (table(&[]), "missing field `level`"),
            (
                table(&[("level", ConfigValue::String("high".into()))]),
                "key `level`: invalid type: string \"high\", expected u8",
            ),
            (
                table(&[("level", ConfigValue::Integer(300))]),
                "key `level`: invalid value: integer `300`, expected u8",
            ),
            (
                table(&[
                    ("level", ConfigValue::Integer(1)),
                    ("levle", ConfigValue::Integer(1)),
                ]),
                "key `levle`: unknown key",
            ),
            (
                table(&[
                    ("level", ConfigValue::Integer(1)),
                    ("inner", table(&[("on", ConfigValue::Integer(1))])),
                ]),
                "key `inner.on`: invalid type: integer `1`, expected a boolean",
            ),
            (
                table(&[
                    ("level", ConfigValue::Integer(1)),
                    ("names", ConfigValue::Array(vec![ConfigValue::Bool(true)])),
                ]),
                "key `names[0]`: invalid type: boolean `true`, expected a string",
            ),
            (
                table(&[
                    ("level", ConfigValue::Integer(1)),
                    ("mode", ConfigValue::String("medium".into())),
                ]),
                "key `mode`: unknown variant `medium`, expected `fast` or `slow`",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(check(value).unwrap_err(), expected);
        }
    }
}
