//! A report as a flame graph, rendered by inferno from its folded stacks.

use super::Report;

impl Report {
    /// The report as a flame graph in SVG: the [folded stacks](Report::folded), rendered by
    /// inferno, each frame as wide as the bytes under it. With no collection holding memory,
    /// an SVG that says so.
    pub fn flamegraph_svg(&self) -> String {
        let folded = self.folded();
        let mut options = inferno::flamegraph::Options::default();
        options.title = "leakguard: heap held by tracked collections".to_string();
        options.count_name = "bytes".to_string();
        options.name_type = "Collection:".to_string();
        let mut svg = Vec::new();
        let rendered = if folded.is_empty() {
            Err("no tracked collection holds memory".to_string())
        } else {
            inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)
                .map_err(|error| error.to_string())
        };
        match rendered {
            Ok(()) => String::from_utf8(svg).unwrap_or_default(),
            Err(why) => message_svg(&why),
        }
    }
}

/// An SVG with one line of text, for when there is nothing to draw.
fn message_svg(text: &str) -> String {
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">{text}</text></svg>"
    )
}
