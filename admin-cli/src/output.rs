//! How results are shown: aligned tables for people, JSON for scripts.

use relay_core::Timestamp;
use serde::Serialize;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A time for people: `2026-12-04 10:00` (UTC).
pub fn time(ts: Timestamp) -> String {
    let text = ts.to_string();
    match text.get(..16) {
        Some(minutes) => format!("{} UTC", minutes.replace('T', " ")),
        None => text,
    }
}

/// Columns padded to their widest cell; the last column is not padded.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }

    fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(&["SLUG", "NAME"]);
        table.row(vec!["acme".into(), "Acme Corp".into()]);
        table.row(vec!["a".into(), "Ä".into()]);
        assert_eq!(table.render(), "SLUG  NAME\nacme  Acme Corp\na     Ä\n");
    }

    #[test]
    fn times_are_shown_to_the_minute() {
        let ts = Timestamp::parse_rfc3339("2026-12-04T10:05:59Z").unwrap();
        assert_eq!(time(ts), "2026-12-04 10:05 UTC");
    }
}
