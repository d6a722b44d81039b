//! The report as one self-contained HTML page: what `/debug/leakguard/` serves.
//!
//! No external asset, no build step: the rows are in the served HTML, so the page reads with
//! JavaScript off; a few lines of inline script only sort the table.

use std::fmt::{self, Write};

use super::{GroupReport, Report, ScopeHeap, heap};
use crate::units::{ByteSize, SignedBytes};

/// The most points a sparkline draws: longer histories are thinned to this, so a page of 100
/// groups stays small whatever history the layer keeps.
const SPARK_POINTS: usize = 30;
const SPARK_WIDTH: usize = 120;
const SPARK_HEIGHT: usize = 24;

/// The links to the other routes, as (route, what it is).
const LINKS: [(&str, &str); 5] = [
    ("/debug/leakguard/flamegraph.svg", "flame graph"),
    ("/debug/leakguard/folded", "folded stacks"),
    ("/debug/leakguard/heap", "pprof profile"),
    ("/debug/leakguard/report", "text report"),
    ("/debug/leakguard/report.json", "JSON"),
];

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}\
nav a{margin-right:1em}table{border-collapse:collapse}\
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}\
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}\
tr>:first-child,tr>:nth-child(11){text-align:left}p.note{color:#666}\
tr.warn td:first-child{color:#b00020;font-weight:600}\
td svg{width:120px;height:24px}polyline{fill:none;stroke:#1565c0;stroke-width:1.5}";

/// Sorts a table by the column whose header is clicked: by number where the cell reads as one
/// (`17.4 KiB` as bytes), else by text. Marks the page ready, or the error that stopped it,
/// for whoever checks.
const SCRIPT: &str = "addEventListener('error',e=>{document.documentElement.dataset.error=e.message});\
const U={B:1,KiB:1024,MiB:1048576,GiB:1073741824,TiB:1099511627776};\
const num=s=>{const m=/^([+-]?[0-9.]+) ?(B|KiB|MiB|GiB|TiB)?$/.exec(s.trim());return m?m[1]*(U[m[2]]||1):null};\
for(const t of document.querySelectorAll('table.sortable')){\
const hs=[...t.tHead.rows[0].cells];hs.forEach((h,i)=>h.addEventListener('click',()=>{\
const desc=h.dataset.dir!=='desc';hs.forEach(x=>delete x.dataset.dir);h.dataset.dir=desc?'desc':'asc';\
const b=t.tBodies[0];const key=r=>{const s=r.cells[i].textContent,n=num(s);return n===null?s:n};\
[...b.rows].sort((p,q)=>{const a=key(p),z=key(q);const o=a<z?-1:a>z?1:0;return desc?-o:o}).forEach(r=>b.appendChild(r))}))}\
document.documentElement.dataset.ready='1';";

impl Report {
    /// The report as one self-contained HTML page, what `/debug/leakguard/` serves: a summary
    /// line, a table of collections sorted by growth then bytes (click a header to sort by
    /// another column), each with a sparkline of its bytes over the history the layer keeps,
    /// and links to the flame graph, folded stacks, pprof profile, text and JSON reports.
    ///
    /// ```
    /// let page = leakguard::report().to_html();
    /// assert!(page.starts_with("<!doctype html>"));
    /// ```
    pub fn to_html(&self) -> String {
        let mut page = String::with_capacity(4096 + self.groups.len() * 512);
        // Writing to a `String` does not fail.
        let _ = self.write_html(&mut page);
        page
    }

    fn write_html(&self, out: &mut String) -> fmt::Result {
        out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width\">");
        out.push_str("<title>leakguard</title><style>");
        out.push_str(STYLE);
        out.push_str("</style></head>\n<body><h1>leakguard</h1>\n<p id=\"summary\">");
        if let Some(coverage) = heap::coverage(self) {
            write!(out, "{coverage}; ")?;
        }
        writeln!(
            out,
            "{} collections in {} groups, {} tracked; registry {}</p>",
            self.groups.iter().map(|g| g.instances).sum::<usize>(),
            self.groups.len(),
            ByteSize(self.total_bytes()),
            ByteSize(self.registry_bytes),
        )?;
        out.push_str("<nav>");
        for (route, name) in LINKS {
            write!(out, "<a href=\"{route}\">{name}</a>")?;
        }
        out.push_str("</nav>\n<h2>Collections</h2>\n");
        out.push_str("<table id=\"collections\" class=\"sortable\"><thead><tr>");
        for header in [
            "collection",
            "bytes",
            "len",
            "instances",
            "growth/min",
            "peak bytes",
            "unused",
            "budget",
            "over",
            "outlived",
            "site",
            "trend",
        ] {
            write!(out, "<th>{header}</th>")?;
        }
        out.push_str("</tr></thead><tbody>\n");
        let mut rows: Vec<&GroupReport> = self.groups.iter().collect();
        rows.sort_by(|a, b| {
            b.bytes_per_sec
                .total_cmp(&a.bytes_per_sec)
                .then(b.bytes.cmp(&a.bytes))
                .then(a.collection.cmp(b.collection))
        });
        for group in rows {
            row(out, group)?;
        }
        writeln!(
            out,
            "</tbody></table>\n<p class=\"note\">growth/min: the change in bytes since the sampler's previous sample, per minute; trend: bytes over the last {} samples; site: where the most bytes of the group were created. Red: over budget or outlived its scope.</p>",
            self.groups
                .iter()
                .map(|g| g.history.len())
                .max()
                .unwrap_or(0)
        )?;
        if !self.heap.is_empty() {
            self.write_scopes(out)?;
        }
        out.push_str("<script>");
        out.push_str(SCRIPT);
        out.push_str("</script></body></html>\n");
        Ok(())
    }
}

impl Report {
    /// The table of scopes, with [`Alloc`](crate::Alloc) installed: what the ended instances
    /// of each scope name retain first.
    fn write_scopes(&self, out: &mut String) -> fmt::Result {
        out.push_str("<h2>Scopes</h2>\n<table id=\"scopes\" class=\"sortable\"><thead><tr>");
        for header in [
            "scope",
            "live",
            "blocks",
            "retained",
            "ended instances",
            "trend",
        ] {
            write!(out, "<th>{header}</th>")?;
        }
        out.push_str("</tr></thead><tbody>\n");
        let mut rows: Vec<&ScopeHeap> = self.heap.iter().collect();
        rows.sort_by(|a, b| {
            b.retained_bytes
                .cmp(&a.retained_bytes)
                .then(b.live_bytes.cmp(&a.live_bytes))
                .then(a.name.cmp(&b.name))
        });
        for scope in rows {
            let warn = if scope.retained_instances > 0 {
                " class=\"warn\""
            } else {
                ""
            };
            write!(
                out,
                "<tr{warn}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
                Escaped(&scope.name),
                ByteSize(scope.live_bytes),
                scope.live_blocks,
                ByteSize(scope.retained_bytes),
                scope.retained_instances,
            )?;
            sparkline(out, &scope.history)?;
            out.push_str("</td></tr>\n");
        }
        writeln!(
            out,
            "</tbody></table>\n<p class=\"note\">Every live byte by the leak scope that allocated it: retained, what instances that ended still hold. Red: ended instances hold memory.</p>"
        )
    }
}

fn row(out: &mut String, g: &GroupReport) -> fmt::Result {
    let warn = if g.over_budget + g.outlived > 0 {
        " class=\"warn\""
    } else {
        ""
    };
    write!(out, "<tr{warn}><td>{}</td>", Escaped(g.collection))?;
    write!(out, "<td>{}</td>", ByteSize(g.bytes))?;
    write!(out, "<td>{}</td><td>{}</td>", g.len, g.instances)?;
    let per_min = g.bytes_per_sec * 60.0;
    if per_min.abs() < 0.5 {
        out.push_str("<td>0</td>");
    } else {
        write!(out, "<td>{}</td>", SignedBytes(per_min))?;
    }
    write!(
        out,
        "<td>{}</td><td>{}</td>",
        ByteSize(g.peak_bytes),
        ByteSize(g.unused_bytes),
    )?;
    write!(
        out,
        "<td>{}</td><td>{}</td><td>{}</td><td>",
        Escaped(&g.budget.to_string()),
        g.over_budget,
        g.outlived
    )?;
    match g
        .sites
        .first()
        .and_then(|site| site.file.zip(Some(site.line)))
    {
        Some((file, line)) => write!(out, "{}:{line}", Escaped(file))?,
        None => out.push('-'),
    }
    out.push_str("</td><td>");
    sparkline(out, &g.history)?;
    out.push_str("</td></tr>\n");
    Ok(())
}

/// An inline SVG polyline of `history`, scaled to its own range; `-` for fewer than two
/// samples.
fn sparkline(out: &mut String, history: &[usize]) -> fmt::Result {
    if history.len() < 2 {
        out.push('-');
        return Ok(());
    }
    // Thin a long history to evenly spaced samples, always keeping the newest.
    let points: Vec<usize> = if history.len() <= SPARK_POINTS {
        history.to_vec()
    } else {
        (0..SPARK_POINTS)
            .map(|i| history[i * (history.len() - 1) / (SPARK_POINTS - 1)])
            .collect()
    };
    let (low, high) = points
        .iter()
        .fold((usize::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = (high - low).max(1) as f64;
    let step = SPARK_WIDTH as f64 / (points.len() - 1) as f64;
    // The style sheet sizes the picture to SPARK_WIDTH x SPARK_HEIGHT pixels.
    write!(
        out,
        "<svg><title>{} to {}</title><polyline points=\"",
        ByteSize(points[0]),
        ByteSize(points[points.len() - 1]),
    )?;
    let usable = (SPARK_HEIGHT - 2) as f64;
    for (i, &value) in points.iter().enumerate() {
        let x = i as f64 * step;
        // High values near the top; one pixel of margin so the stroke is not cut.
        let y = 1.0 + usable - (value - low) as f64 / range * usable;
        let sep = if i == 0 { "" } else { " " };
        write!(out, "{sep}{x:.0},{y:.0}")?;
    }
    out.push_str("\"/></svg>");
    Ok(())
}

/// Text made safe inside an HTML element or a quoted attribute.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['<', '>', '&', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'&' => "&amp;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_has_no_markup() {
        assert_eq!(
            Escaped("Registry<u64, String>.map & \"x\" 'y'").to_string(),
            "Registry&lt;u64, String&gt;.map &amp; &quot;x&quot; &#39;y&#39;"
        );
    }

    #[test]
    fn a_sparkline_rises_with_its_history_and_needs_two_samples() {
        let mut one = String::new();
        sparkline(&mut one, &[5]).unwrap();
        assert_eq!(one, "-");
        let mut rising = String::new();
        sparkline(&mut rising, &[0, 50, 100]).unwrap();
        assert!(rising.contains("points=\"0,23 60,12 120,1\""), "{rising}");
        let mut long = String::new();
        sparkline(&mut long, &(0..1_000).collect::<Vec<_>>()).unwrap();
        let points = long.split("points=\"").nth(1).unwrap();
        assert_eq!(points.split(' ').count(), SPARK_POINTS, "{long}");
        assert!(
            points.starts_with("0,23 ") && points.contains("120,1\""),
            "{long}"
        );
    }
}
