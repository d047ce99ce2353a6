//! Outputs (being integrated).
