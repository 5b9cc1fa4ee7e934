//! Schema tests (being written).
