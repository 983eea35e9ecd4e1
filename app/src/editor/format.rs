//! Short number formats for badges and charts.

/// `1234567` → `1.23M`.
pub fn count(n: u64) -> String {
    let f = n as f64;
    if n < 10_000 {
        n.to_string()
    } else if f < 1e6 {
        format!("{:.1}k", f / 1e3)
    } else if f < 1e9 {
        format!("{:.2}M", f / 1e6)
    } else {
        format!("{:.2}G", f / 1e9)
    }
}

/// Events per second.
pub fn rate(r: f64) -> String {
    if r < 10.0 { format!("{r:.1}/s") } else { format!("{}/s", count(r.round() as u64)) }
}

/// `n` and the noun, plural unless `n` is 1: "1 wire", "3 wires".
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(12_345), "12.3k");
        assert_eq!(super::count(2_500_000), "2.50M");
        assert_eq!(super::rate(2.25), "2.2/s");
    }

    #[test]
    fn one_of_a_thing_is_singular() {
        assert_eq!(super::counted(1, "wire"), "1 wire");
        assert_eq!((super::counted(0, "wire"), super::counted(3, "node")), ("0 wires".into(), "3 nodes".into()));
    }
}
