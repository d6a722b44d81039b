//! How leakguard prints quantities: counts, bytes, signed changes of bytes, rates and spans of time.

use std::fmt;

use crate::clock::Nanos;

/// A byte count printed with binary units: `512 B`, `64 KiB`, `1.5 MiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteSize(pub(crate) usize);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        let bytes = self.0;
        if bytes < 1024 {
            return write!(f, "{bytes} B");
        }
        let mut value = bytes as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        let tenths = (value * 10.0).round() / 10.0;
        if tenths.fract() == 0.0 {
            write!(f, "{tenths:.0} {}", UNITS[unit])
        } else {
            write!(f, "{tenths:.1} {}", UNITS[unit])
        }
    }
}

/// A count printed with thousands separators: `1,000`, `12,345,678`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Count(pub(crate) usize);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, digit) in digits.char_indices() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                f.write_str(",")?;
            }
            write!(f, "{digit}")?;
        }
        Ok(())
    }
}

/// A change in bytes, signed, with binary units: `+1.5 KiB`, `-200 B`, `+0 B`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignedBytes(pub(crate) f64);

impl fmt::Display for SignedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0.0 { "-" } else { "+" };
        write!(f, "{sign}{}", ByteSize(self.0.abs().round() as usize))
    }
}

/// A rate per second, signed: `+1.5 KiB/s` for bytes, `-12/s` for entries, `0` for none.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rate {
    pub(crate) per_sec: f64,
    pub(crate) bytes: bool,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.per_sec.abs().round() as usize;
        if magnitude == 0 {
            return f.write_str("0");
        }
        if self.bytes {
            write!(f, "{}/s", SignedBytes(self.per_sec))
        } else {
            let sign = if self.per_sec < 0.0 { "-" } else { "+" };
            write!(f, "{sign}{magnitude}/s")
        }
    }
}

/// A span of time, printed in the unit that suits it: `5.0 s`, `120 ms`, `80 µs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Elapsed(pub(crate) Nanos);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0 as f64;
        if nanos >= 1e9 {
            write!(f, "{:.1} s", nanos / 1e9)
        } else if nanos >= 1e6 {
            write!(f, "{:.0} ms", nanos / 1e6)
        } else {
            write!(f, "{:.0} µs", nanos / 1e3)
        }
    }
}

/// Writes `rows` under `header` as an aligned table, two spaces between columns: the columns
/// in `left` read left to right (names), the others line up on the right (figures). Every
/// line is ended.
pub(crate) fn aligned_table<const N: usize>(
    f: &mut fmt::Formatter<'_>,
    header: [&str; N],
    rows: &[[String; N]],
    left: &[usize],
) -> fmt::Result {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |f: &mut fmt::Formatter<'_>, cells: [&str; N]| -> fmt::Result {
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let sep = if i == 0 { "" } else { "  " };
            if left.contains(&i) {
                write!(f, "{sep}{cell:<width$}")?;
            } else {
                write!(f, "{sep}{cell:>width$}")?;
            }
        }
        writeln!(f)
    };
    line(f, header)?;
    for row in rows {
        line(f, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_print_with_binary_units() {
        assert_eq!(ByteSize(512).to_string(), "512 B");
        assert_eq!(ByteSize(64 * 1024).to_string(), "64 KiB");
        assert_eq!(ByteSize(1536 * 1024).to_string(), "1.5 MiB");
        assert_eq!(ByteSize(64_000).to_string(), "62.5 KiB");
    }

    #[test]
    fn counts_print_with_thousands_separators() {
        assert_eq!(Count(0).to_string(), "0");
        assert_eq!(Count(999).to_string(), "999");
        assert_eq!(Count(1_000).to_string(), "1,000");
        assert_eq!(Count(12_345_678).to_string(), "12,345,678");
    }

    #[test]
    fn changes_and_rates_carry_their_sign() {
        assert_eq!(SignedBytes(-200.0).to_string(), "-200 B");
        assert_eq!(SignedBytes(0.0).to_string(), "+0 B");
        assert_eq!(SignedBytes(1536.0).to_string(), "+1.5 KiB");
        let bytes = |per_sec| {
            Rate {
                per_sec,
                bytes: true,
            }
            .to_string()
        };
        let entries = |per_sec| {
            Rate {
                per_sec,
                bytes: false,
            }
            .to_string()
        };
        assert_eq!(bytes(1536.0), "+1.5 KiB/s");
        assert_eq!(bytes(0.2), "0");
        assert_eq!(entries(-12.4), "-12/s");
    }

    #[test]
    fn spans_of_time_pick_their_unit() {
        assert_eq!(Elapsed(5_000_000_000).to_string(), "5.0 s");
        assert_eq!(Elapsed(120_000_000).to_string(), "120 ms");
        assert_eq!(Elapsed(80_000).to_string(), "80 µs");
    }
}
