//! Error types of the expression engine.

/// An expression could not be compiled (syntax error or undefined name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}{}", column.map(|c| format!(" (at column {c})")).unwrap_or_default())]
pub struct CompileError {
    /// Human-readable description of the problem.
    pub message: String,
    /// 1-based column in the expression source, when known
    pub column: Option<usize>,
}

/// Running an expression on a record failed (type error, `error(...)`, `halt`, ...).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl CompileError {
    /// Builds an error whose position is the start of `part`, a sub-slice of `src`.
    pub(crate) fn at(message: String, src: &str, part: &str) -> Self {
        CompileError { message, column: offset_in(src, part).map(|off| column_of(src, off)) }
    }
}

/// Byte offset of `part` inside `whole`, if `part` really points into `whole`.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let base = whole.as_ptr() as usize;
    let start = part.as_ptr() as usize;
    (start >= base && start <= base + whole.len()).then(|| start - base)
}

/// 1-based column (in characters) of byte offset `off` within its line of `src`.
pub(crate) fn column_of(src: &str, off: usize) -> usize {
    let mut off = off.min(src.len());
    while !src.is_char_boundary(off) {
        off -= 1;
    }
    let line_start = src[..off].rfind('\n').map_or(0, |i| i + 1);
    src[line_start..off].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_one_based_and_per_line() {
        assert_eq!(column_of("abc", 0), 1);
        assert_eq!(column_of("abc", 3), 4);
        assert_eq!(column_of("a\nbc", 3), 2);
        assert_eq!(column_of("é.x", 2), 2);
    }

    #[test]
    fn display_includes_column() {
        let e = CompileError { message: "boom".into(), column: Some(3) };
        assert_eq!(e.to_string(), "boom (at column 3)");
        let e = CompileError { message: "boom".into(), column: None };
        assert_eq!(e.to_string(), "boom");
    }
}
