//! Where wires run on the canvas, for picking one with the pointer. egui-snarl does not expose
//! its wire geometry, so the canvas draws wires as cubic Béziers (`WireStyle::Bezier3`) and
//! this module rebuilds the same curve from the two pin positions.

use egui::{Pos2, Vec2, pos2};

/// Samples per wire when measuring the distance to its curve.
const SAMPLES: usize = 32;

/// Control points of the cubic egui-snarl draws from `from` to `to` with frame size `frame`
/// (its `wire_frame_size`, shrunk to a sixth of the wire's length as snarl does).
pub fn bezier(frame: f32, from: Pos2, to: Pos2) -> [Pos2; 4] {
    let frame = frame.min((to - from).length() / 6.0);
    [from, pos2(from.x + frame, from.y), pos2(to.x - frame, to.y), to]
}

/// The point at `t` (0 to 1) along a cubic Bézier.
pub fn point_at(c: &[Pos2; 4], t: f32) -> Pos2 {
    let u = 1.0 - t;
    let v = c[0].to_vec2() * (u * u * u)
        + c[1].to_vec2() * (3.0 * u * u * t)
        + c[2].to_vec2() * (3.0 * u * t * t)
        + c[3].to_vec2() * (t * t * t);
    Pos2::ZERO + v
}

/// The shortest distance from `p` to the curve (sampled as a polyline).
pub fn distance(c: &[Pos2; 4], p: Pos2) -> f32 {
    let mut best = f32::INFINITY;
    let mut a = c[0];
    for i in 1..=SAMPLES {
        let b = point_at(c, i as f32 / SAMPLES as f32);
        best = best.min(segment_distance(a, b, p));
        a = b;
    }
    best
}

fn segment_distance(a: Pos2, b: Pos2, p: Pos2) -> f32 {
    let ab: Vec2 = b - a;
    let len2 = ab.length_sq();
    let t = if len2 > 0.0 { ((p - a).dot(ab) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (a + ab * t).distance(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_on_the_curve_are_hit_and_points_beside_it_are_not() {
        let c = bezier(27.0, pos2(0.0, 0.0), pos2(300.0, 120.0));
        for t in [0.1, 0.3, 0.5, 0.8] {
            assert!(distance(&c, point_at(&c, t)) < 0.5);
        }
        // Far from the middle of the straight line between the ends (the curve bends away).
        assert!(distance(&c, pos2(150.0, 60.0) + egui::vec2(0.0, 40.0)) > 10.0);
        assert!(distance(&c, pos2(150.0, -30.0)) > 10.0);
    }
}
