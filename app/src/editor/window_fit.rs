//! The window's first size: most of the monitor it opens on, never larger than it (a fixed
//! size would be too big for a laptop screen and small on a large one).

use egui::{Vec2, vec2};

/// Share of the monitor the window takes at first.
const SHARE: f32 = 0.9;

/// Smallest first size, unless the monitor itself is smaller.
const MIN_SIZE: Vec2 = vec2(800.0, 560.0);

/// The inner size for a window on a monitor of `monitor` points.
pub fn fitted_size(monitor: Vec2) -> Vec2 {
    (monitor * SHARE).max(MIN_SIZE).min(monitor)
}

/// Once the monitor's size is known (first frames), sizes and centres the window on it.
/// Returns whether that is done.
pub fn fit_window(ctx: &egui::Context) -> bool {
    let Some(monitor) = ctx.input(|i| i.viewport().monitor_size).filter(|m| m.x > 0.0 && m.y > 0.0) else {
        return false;
    };
    let size = fitted_size(monitor);
    ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(size));
    ctx.send_viewport_cmd(egui::ViewportCommand::OuterPosition(((monitor - size) / 2.0).to_pos2()));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_takes_most_of_any_monitor_and_never_more() {
        assert_eq!(fitted_size(vec2(1600.0, 1000.0)), vec2(1440.0, 900.0));
        assert_eq!(fitted_size(vec2(2560.0, 1440.0)), vec2(2304.0, 1296.0));
        let small = fitted_size(vec2(1024.0, 600.0));
        assert!((small.x - 921.6).abs() < 0.01 && small.y == 560.0, "{small:?}");
        assert_eq!(fitted_size(vec2(700.0, 500.0)), vec2(700.0, 500.0));
    }
}
