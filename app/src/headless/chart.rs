//! A throughput chart of a finished headless run, drawn with plotters (PNG, or SVG by
//! extension), using the bundled DejaVu Sans font.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use streamloom_runtime::metrics::History;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Writes events/s out per node over time.
pub fn write(path: &Path, history: &History, node_ids: &[String]) -> anyhow::Result<()> {
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| anyhow::anyhow!("cannot load the chart font"))?;
    let svg = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if svg {
        draw(SVGBackend::new(path, (1000, 500)).into_drawing_area(), history, node_ids)
    } else {
        draw(BitMapBackend::new(path, (1000, 500)).into_drawing_area(), history, node_ids)
    }
}

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    history: &History,
    node_ids: &[String],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    area.fill(&WHITE).map_err(err)?;
    let samples = history.samples();
    let t_max = samples.back().map_or(1.0, |s| s.t).max(1.0);
    let y_max = samples.iter().flat_map(|s| s.rate_out.iter().chain(&s.rate_in)).fold(1.0f32, |a, &b| a.max(b)) as f64;
    let mut chart = ChartBuilder::on(&area)
        .caption("Throughput per node (events/s out; sinks: in)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max * 1.05)
        .map_err(err)?;
    chart.configure_mesh().x_desc("seconds").y_desc("events/s").draw().map_err(err)?;
    for (i, id) in node_ids.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = samples.iter().map(|s| {
            let out = s.rate_out.get(i).copied().unwrap_or(0.0);
            let inp = s.rate_in.get(i).copied().unwrap_or(0.0);
            (s.t, f64::from(if out > 0.0 { out } else { inp }))
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?
            .label(id.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}
