//! Tamper tests (being written).
