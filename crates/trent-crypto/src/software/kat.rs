//! Reads the known-answer files in `tests/data/`: blocks of `name = hex`
//! lines separated by blank lines; `#` starts a comment line. Values that
//! are not hex (curve and algorithm names) are kept as text.

use std::collections::HashMap;

/// One block of a vector file.
#[derive(Debug)]
pub(crate) struct Vector(HashMap<String, String>);

impl Vector {
    /// A field's text.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.0
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("vector has no {name}: {self:?}"))
    }

    /// A field decoded from hex.
    pub(crate) fn bytes(&self, name: &str) -> Vec<u8> {
        let hex = self.text(name);
        assert!(hex.len().is_multiple_of(2), "odd hex in {name}");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
            .collect()
    }
}

/// Parses a vector file.
pub(crate) fn parse(text: &str) -> Vec<Vector> {
    let mut vectors = Vec::new();
    let mut current = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !current.is_empty() {
                vectors.push(Vector(std::mem::take(&mut current)));
            }
            continue;
        }
        let (name, value) = line.split_once('=').expect("name = value");
        current.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    if !current.is_empty() {
        vectors.push(Vector(current));
    }
    vectors
}

/// A vector file from `tests/data/`.
macro_rules! vectors {
    ($file:literal) => {
        $crate::software::kat::parse(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/",
            $file
        )))
    };
}
pub(crate) use vectors;
