//! Charts drawn on the server as inline SVG (the dashboard's CSP allows no chart script):
//! bars (stacked when several series) and a line with its points. Each chart is an image
//! with a `<title>` and a `<desc>` naming the table that holds its numbers; each bar and
//! point carries its value (`data-value`) and a tooltip. Heights are `value / max × HEIGHT`.

use crate::templates::{Markup, html};

/// The drawing area, in SVG units (the chart scales to the card's width).
pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 160.0;
/// Room for the axis labels: left of the plot, and below it.
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// One series: its name (legend and tooltips), colour and one value per label.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'static str,
    pub values: Vec<i64>,
}

/// A chart's identity and its labels along the x axis.
pub struct Chart<'a> {
    /// The element id (its title and description ids derive from it).
    pub id: &'a str,
    pub title: &'a str,
    /// What the chart shows and where its numbers are, read by screen readers.
    pub description: &'a str,
    pub labels: &'a [String],
    /// Every how many labels one is written under the axis.
    pub label_every: usize,
}

/// Two decimals are finer than a pixel.
fn n(v: f64) -> String {
    format!("{:.2}", v)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// The largest value drawn, at least 1 (an empty chart keeps its axis).
fn scale_max(values: impl Iterator<Item = i64>) -> i64 {
    values.max().unwrap_or(0).max(1)
}

fn frame(c: &Chart<'_>, max: i64, series: &[Series<'_>], plot: Markup) -> Markup {
    let slot = (WIDTH - LEFT) / c.labels.len().max(1) as f64;
    let title_id = format!("{}-title", c.id);
    let desc_id = format!("{}-desc", c.id);
    html! {
        figure.chart {
            svg id=(c.id) role="img" aria-labelledby={ (title_id) " " (desc_id) }
                viewBox={ "0 0 " (n(WIDTH)) " " (n(TOP + HEIGHT + BOTTOM)) }
                data-max=(max) data-height=(n(HEIGHT)) {
                title id=(title_id) { (c.title) }
                desc id=(desc_id) { (c.description) }
                line x1=(n(LEFT)) y1=(n(TOP)) x2=(n(WIDTH)) y2=(n(TOP)) stroke="#e5e7eb" {}
                line x1=(n(LEFT)) y1=(n(TOP + HEIGHT)) x2=(n(WIDTH)) y2=(n(TOP + HEIGHT)) stroke="#9ca3af" {}
                text x=(n(LEFT - 4.0)) y=(n(TOP + 4.0)) text-anchor="end" font-size="11" fill="#4b5563" { (max) }
                text x=(n(LEFT - 4.0)) y=(n(TOP + HEIGHT)) text-anchor="end" font-size="11" fill="#4b5563" { "0" }
                @for (i, label) in c.labels.iter().enumerate() {
                    @if i % c.label_every.max(1) == 0 || i + 1 == c.labels.len() {
                        text x=(n(LEFT + slot * (i as f64 + 0.5))) y=(n(TOP + HEIGHT + 15.0))
                            text-anchor="middle" font-size="10" fill="#4b5563" { (label) }
                    }
                }
                (plot)
            }
            @if series.len() > 1 {
                figcaption.legend {
                    @for s in series {
                        span { svg width="10" height="10" aria-hidden="true" { rect width="10" height="10" fill=(s.colour) {} } " " (s.name) }
                        " "
                    }
                }
            }
        }
    }
}

/// Bars, one per label; several series stack from the first up.
pub fn bars(c: &Chart<'_>, series: &[Series<'_>]) -> Markup {
    let count = c.labels.len();
    let totals = (0..count).map(|i| {
        series
            .iter()
            .map(|s| s.values.get(i).copied().unwrap_or(0))
            .sum()
    });
    let max = scale_max(totals);
    let slot = (WIDTH - LEFT) / count.max(1) as f64;
    let width = slot * 0.7;
    // (label, series, value, y, height), each series stacked on the ones before it.
    let mut drawn = Vec::with_capacity(count * series.len());
    for (i, label) in c.labels.iter().enumerate() {
        let mut base = 0_i64;
        for s in series {
            let value = s.values.get(i).copied().unwrap_or(0);
            base += value;
            let y = TOP + HEIGHT - base as f64 * HEIGHT / max as f64;
            let h = value as f64 * HEIGHT / max as f64;
            drawn.push((i, label, s, value, y, h));
        }
    }
    let plot = html! {
        @for (i, label, s, value, y, h) in drawn {
            rect.bar x=(n(LEFT + slot * i as f64 + (slot - width) / 2.0)) y=(n(y)) width=(n(width)) height=(n(h))
                fill=(s.colour) data-label=(label) data-series=(s.name) data-value=(value) {
                title { (label) ": " (value) " (" (s.name) ")" }
            }
        }
    };
    frame(c, max, series, plot)
}

/// A line through one point per label.
pub fn line(c: &Chart<'_>, s: &Series<'_>) -> Markup {
    let count = c.labels.len();
    let max = scale_max(s.values.iter().copied());
    let slot = (WIDTH - LEFT) / count.max(1) as f64;
    let point = |i: usize| {
        let value = s.values.get(i).copied().unwrap_or(0);
        (
            LEFT + slot * (i as f64 + 0.5),
            TOP + HEIGHT - value as f64 * HEIGHT / max as f64,
            value,
        )
    };
    let path = (0..count)
        .map(|i| {
            let (x, y, _) = point(i);
            format!("{},{}", n(x), n(y))
        })
        .collect::<Vec<_>>()
        .join(" ");
    let plot = html! {
        polyline points=(path) fill="none" stroke=(s.colour) stroke-width="2" {}
        @for (i, label) in c.labels.iter().enumerate() {
            @let (x, y, value) = point(i);
            circle.point cx=(n(x)) cy=(n(y)) r="3" fill=(s.colour)
                data-label=(label) data-series=(s.name) data-value=(value) {
                title { (label) ": " (value) " (" (s.name) ")" }
            }
        }
    };
    frame(c, max, std::slice::from_ref(s), plot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_exact_enough() {
        assert_eq!(n(160.0), "160");
        assert_eq!(n(53.333333), "53.33");
        assert_eq!(n(0.5), "0.5");
    }

    #[test]
    fn text_in_a_chart_is_escaped() {
        let labels = vec!["<b>".to_string()];
        let c = Chart {
            id: "c",
            title: "A & B",
            description: "\"d\"",
            labels: &labels,
            label_every: 1,
        };
        let svg = bars(
            &c,
            &[Series {
                name: "<script>",
                colour: "#000",
                values: vec![1],
            }],
        )
        .into_string();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("A &amp; B"), "{svg}");
    }
}
