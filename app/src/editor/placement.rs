//! Where a new node goes: the free spot nearest to where it was asked for, so that cards
//! added to the canvas never cover each other.

use egui::{Pos2, Rect, Vec2, vec2};

/// Room kept between a new card and its neighbours (canvas units).
pub const GAP: f32 = 24.0;

/// Distance between the spots tried, ring after ring around the wanted one (canvas units).
const STEP: f32 = 40.0;

/// Rings tried before giving up and taking the wanted spot.
const RINGS: i32 = 60;

/// The top-left corner nearest to `want` where a card of `size` overlaps none of `occupied`
/// (with [`GAP`] around it); `want` itself when it is free.
pub fn free_spot(occupied: &[Rect], want: Pos2, size: Vec2) -> Pos2 {
    let fits = |p: Pos2| {
        let r = Rect::from_min_size(p, size).expand(GAP);
        !occupied.iter().any(|o| o.intersects(r))
    };
    if fits(want) {
        return want;
    }
    for ring in 1..=RINGS {
        // Every spot on the square ring, nearest to `want` first.
        let mut spots: Vec<Pos2> = Vec::new();
        for i in -ring..=ring {
            for (dx, dy) in [(i, -ring), (i, ring), (-ring, i), (ring, i)] {
                spots.push(want + vec2(dx as f32, dy as f32) * STEP);
            }
        }
        spots.sort_by(|a, b| a.distance_sq(want).total_cmp(&b.distance_sq(want)));
        if let Some(p) = spots.into_iter().find(|p| fits(*p)) {
            return p;
        }
    }
    want
}

/// The shift nearest along the diagonal from `offset` that puts every one of `cards` (before
/// the shift) clear of `occupied` (with [`GAP`] around each): `offset` itself when nothing
/// overlaps there, else `offset` plus [`STEP`] right and down, again and again; below
/// everything when the diagonal never frees up.
pub fn free_offset(occupied: &[Rect], cards: &[Rect], offset: Vec2) -> Vec2 {
    let fits = |d: Vec2| {
        cards.iter().all(|c| {
            let r = c.translate(d).expand(GAP);
            !occupied.iter().any(|o| o.intersects(r))
        })
    };
    if let Some(d) = (0..RINGS * 4).map(|k| offset + Vec2::splat(STEP) * k as f32).find(|d| fits(*d)) {
        return d;
    }
    let bottom = occupied.iter().fold(f32::NEG_INFINITY, |b, r| b.max(r.bottom()));
    let top = cards.iter().fold(f32::INFINITY, |t, r| t.min(r.top()));
    vec2(offset.x, bottom + 2.0 * GAP - top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::pos2;

    #[test]
    fn a_free_spot_is_kept_and_a_taken_one_moves_just_clear_of_the_card() {
        let size = vec2(200.0, 110.0);
        assert_eq!(free_spot(&[], pos2(5.0, 5.0), size), pos2(5.0, 5.0));
        let taken = [Rect::from_min_size(pos2(0.0, 0.0), size)];
        let p = free_spot(&taken, pos2(0.0, 0.0), size);
        assert!(!Rect::from_min_size(p, size).expand(GAP).intersects(taken[0]), "{p:?}");
        assert!(p.distance(pos2(0.0, 0.0)) < 250.0, "{p:?} is not near");
    }

    #[test]
    fn a_pasted_selection_moves_down_the_diagonal_until_no_card_overlaps() {
        let size = vec2(200.0, 110.0);
        let occupied = [Rect::from_min_size(pos2(0.0, 0.0), size), Rect::from_min_size(pos2(300.0, 0.0), size)];
        let cards = occupied;
        let d = free_offset(&occupied, &cards, vec2(40.0, 40.0));
        for c in cards {
            let moved = c.translate(d).expand(GAP);
            assert!(occupied.iter().all(|o| !o.intersects(moved)), "{d:?}");
        }
        assert_eq!(d.x, d.y, "along the diagonal");
        assert_eq!(free_offset(&occupied, &cards, vec2(0.0, 500.0)), vec2(0.0, 500.0), "free: kept");
    }
}
