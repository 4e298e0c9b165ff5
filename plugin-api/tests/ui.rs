//! Compile-fail tests of `#[plugin]`: each error sits under the offending
//! tokens, and the item is still emitted (the `main`s use it, so a lost item
//! would add errors to the snapshots). Refresh with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
