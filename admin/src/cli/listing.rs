//! The one printer of every `list` subcommand: a table for people, or with `--json` the rows as
//! pretty-printed JSON for scripts.

use serde::Serialize;

use super::CliError;

/// How a column pads its cells (by characters, as `format!` does).
#[derive(Debug, Clone, Copy)]
pub enum Align {
    Left,
    Right,
}

/// One table column: its title and width. The last column usually has width 0 (not padded).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    pub width: usize,
    pub align: Align,
}

impl Column {
    pub const fn left(title: &'static str, width: usize) -> Self {
        Self {
            title,
            width,
            align: Align::Left,
        }
    }

    pub const fn right(title: &'static str, width: usize) -> Self {
        Self {
            title,
            width,
            align: Align::Right,
        }
    }

    fn pad(&self, cell: &str) -> String {
        match self.align {
            Align::Left => format!("{cell:<width$}", width = self.width),
            Align::Right => format!("{cell:>width$}", width = self.width),
        }
    }
}

/// One table line: its cells (one per column) and a note written right after the last cell.
pub struct Line {
    pub cells: Vec<String>,
    pub note: &'static str,
}

impl Line {
    pub fn new(cells: Vec<String>) -> Self {
        Self { cells, note: "" }
    }
}

/// Prints `rows`: with `json`, `to_json` of each row as one pretty-printed JSON array; else a
/// header of `columns` and one `to_line` per row, cells separated by one space.
pub fn print_list<'a, T, J: Serialize>(
    out: &mut dyn std::io::Write,
    json: bool,
    rows: &'a [T],
    columns: &[Column],
    to_json: impl Fn(&'a T) -> J,
    to_line: impl Fn(&T) -> Line,
) -> Result<(), CliError> {
    if json {
        let list: Vec<J> = rows.iter().map(to_json).collect();
        let text = serde_json::to_string_pretty(&list).map_err(anyhow::Error::from)?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let header: Vec<String> = columns.iter().map(|c| c.pad(c.title)).collect();
    writeln!(out, "{}", header.join(" "))?;
    for row in rows {
        let line = to_line(row);
        let cells: Vec<String> = columns
            .iter()
            .zip(&line.cells)
            .map(|(c, cell)| c.pad(cell))
            .collect();
        writeln!(out, "{}{}", cells.join(" "), line.note)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column::left("ID", 5),
        Column::right("可用", 6),
        Column::left("名称", 0),
    ];

    fn print(json: bool) -> String {
        let rows = [(1, 20, "甲"), (12, 3, "乙")];
        let mut out = Vec::new();
        print_list(
            &mut out,
            json,
            &rows,
            COLUMNS,
            |r| serde_json::json!({ "id": r.0 }),
            |r| Line {
                cells: vec![r.0.to_string(), r.1.to_string(), r.2.to_owned()],
                note: if r.1 < 5 { "  少" } else { "" },
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_pads_like_format() {
        assert_eq!(
            print(false),
            "ID        可用 名称\n1         20 甲\n12         3 乙  少\n"
        );
    }

    #[test]
    fn json_is_one_pretty_array() {
        assert_eq!(
            print(true),
            "[\n  {\n    \"id\": 1\n  },\n  {\n    \"id\": 12\n  }\n]\n"
        );
    }
}
