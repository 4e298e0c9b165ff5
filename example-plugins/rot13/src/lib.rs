//! Example plugin with an optional feature: `rot13`, and `rot47` when the
//! `rot47` cargo feature is on (plugins.toml turns it on).

use plugin_api::{Plugin, Registrar, plugin};

/// The filter extension point of example-app: text in, text out.
pub type Filter = fn(&str) -> String;

/// Rotation ciphers.
#[plugin(id = "rot")]
#[derive(Debug, Default)]
pub struct Rot;

impl Plugin for Rot {
    fn register(&self, registrar: &mut Registrar<'_>) {
        registrar.add::<Filter>("rot13", rot13);
        #[cfg(feature = "rot47")]
        registrar.add::<Filter>("rot47", rot47);
    }
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            c => c,
        })
        .collect()
}

#[cfg(feature = "rot47")]
fn rot47(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => (((c as u8 - b'!') + 47) % 94 + b'!') as char,
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rot13_round_trips() {
        assert_eq!(super::rot13("Hello, World"), "Uryyb, Jbeyq");
        assert_eq!(super::rot13(&super::rot13("abcXYZ")), "abcXYZ");
    }

    #[cfg(feature = "rot47")]
    #[test]
    fn rot47_round_trips() {
        assert_eq!(super::rot47("Hello"), "w6==@");
        assert_eq!(super::rot47(&super::rot47("a~!")), "a~!");
    }
}
