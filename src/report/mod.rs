//! The audit report of each install: its model, where it is stored, and how
//! it is shown (human, SARIF, Markdown, JSONL).

pub mod model;
