//! Placeholder store (replaced by the real one on merge).
use super::model::Report;
use std::path::PathBuf;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A new report id.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes a report.
pub fn write(r: &Report) -> Result<PathBuf, StoreError> {
    let dir = crate::paths::state_dir()
        .ok_or_else(|| std::io::Error::other("no state dir"))?
        .join("reports");
    std::fs::create_dir_all(&dir)?;
    let p = dir.join(format!(
        "{}-{}-{}.json",
        r.started.replace([':', '-'], ""),
        r.what.manager,
        r.id
    ));
    std::fs::write(
        &p,
        serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?,
    )?;
    Ok(p)
}
