//! The one rule a plugin id follows: `[a-z0-9][a-z0-9_.-]*`, safe in file
//! names, URLs and configuration keys. `#[plugin(id = …)]` refuses any
//! other id at compile time and `cargo xtask lint` any other registered
//! id, both through [`is_valid`]: a proc-macro crate exports no function,
//! so the rule lives here, below both, with no dependencies.

#![no_std]

/// How to write a valid id, for error messages.
pub const RULE: &str =
    "use lowercase ASCII letters, digits, `_`, `.` and `-`, starting with a letter or digit";

/// Whether `id` is a valid plugin id (see [`RULE`]).
#[must_use]
pub const fn is_valid(id: &str) -> bool {
    let bytes = id.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let allowed = b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || (i > 0 && (b == b'_' || b == b'.' || b == b'-'));
        if !allowed {
            return false;
        }
        i += 1;
    }
    i > 0
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn ids_start_with_a_letter_or_digit_and_hold_no_other_punctuation() {
        for id in ["a", "a.b", "9lives", "x_y-z.0", "0", "auth-jwt"] {
            assert!(is_valid(id), "{id}");
        }
        for id in ["", "A", "-a", ".a", "_a", "a b", "a/b", "é", "a\u{0}", "aB"] {
            assert!(!is_valid(id), "{id}");
        }
        const { assert!(is_valid("const-checked")) };
    }
}
