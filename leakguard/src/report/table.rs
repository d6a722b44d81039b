//! The report as a table: what `Display` prints.

use std::fmt;

use super::Report;
use crate::units::{ByteSize, Rate, aligned_table};

impl fmt::Display for Report {
    /// An aligned table, the most bytes first, and a line of totals; every line ends in a
    /// newline. Each row shows its collections' whole figure; the total counts each byte
    /// once (see [`Report::total_bytes`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADER: [&str; 10] = [
            "collection",
            "instances",
            "len",
            "bytes",
            "peak bytes",
            "unused",
            "budget",
            "over",
            "outlived",
            "growth",
        ];
        let rows: Vec<[String; 10]> = self
            .groups
            .iter()
            .map(|g| {
                [
                    g.collection.to_string(),
                    g.instances.to_string(),
                    g.len.to_string(),
                    ByteSize(g.bytes).to_string(),
                    ByteSize(g.peak_bytes).to_string(),
                    ByteSize(g.unused_bytes).to_string(),
                    g.budget.to_string(),
                    g.over_budget.to_string(),
                    g.outlived.to_string(),
                    Rate {
                        per_sec: g.bytes_per_sec,
                        bytes: true,
                    }
                    .to_string(),
                ]
            })
            .collect();
        // The name reads left to right, and the budget; the figures line up on the right.
        aligned_table(f, HEADER, &rows, &[0, 6])?;
        write!(
            f,
            "{} collections in {} groups, {} in all",
            self.groups.iter().map(|g| g.instances).sum::<usize>(),
            self.groups.len(),
            ByteSize(self.total_bytes()),
        )?;
        let nested: usize = self.groups.iter().map(|g| g.nested_bytes).sum();
        if nested > 0 {
            write!(
                f,
                ", counting once the {} that nested rows share with the rows holding them",
                ByteSize(nested)
            )?;
        }
        // Ends its last line, so that `print!("{report}")` leaves the next output its own.
        writeln!(f, "; registry {}", ByteSize(self.registry_bytes))?;
        super::heap::write_section(self, f)
    }
}
