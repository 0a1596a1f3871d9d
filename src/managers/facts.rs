//! Facts about a manager, derived from the manager itself (stub).
