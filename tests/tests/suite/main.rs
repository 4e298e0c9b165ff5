//! The end-to-end suite as one test binary (as ripgrep's and cargo's are):
//! one link of the harness, one build of the tool, every test run from it.
//! `hostile.rs` is the other binary: its ceiling tests measure a child's
//! peak memory, which includes the test process's own high-water mark when
//! the child is spawned, so they run in a lean process of their own.

mod adopt;
mod bad_input;
mod bench;
mod catalogue;
mod dev;
mod dist;
mod docs;
mod edits;
mod fleet;
mod from_registry;
mod git;
mod lint;
mod private;
mod registry;
mod repo;
mod spine;
mod third_party;
