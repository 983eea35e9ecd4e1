//! Which windows an event time falls in. Windows are half-open `[start, end)` in epoch ms.

use streamloom_runtime::registry::ConfigProblem;

use super::config::WindowType;

/// How event times map to windows (all in ms; event times are within ±[`crate::event_time::MAX_TIME`]
/// and durations within 10 years, so nothing here overflows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigner {
    /// `[k*size + offset, +size)`.
    Tumbling {
        /// Length.
        size: i64,
        /// Shift from the epoch.
        offset: i64,
    },
    /// Windows of `size` starting at every `k*slide + offset`.
    Sliding {
        /// Length.
        size: i64,
        /// Distance between starts.
        slide: i64,
        /// Shift from the epoch.
        offset: i64,
    },
    /// `[k*max + offset, +step*j)` for j = 1..=max/step.
    Cumulative {
        /// Growth per firing.
        step: i64,
        /// Largest window.
        max: i64,
        /// Shift from the epoch.
        offset: i64,
    },
    /// Per key, `[t, t+gap)` per event, merged while they touch or overlap.
    Session {
        /// Largest quiet time.
        gap: i64,
    },
}

/// Most windows one event may fall in (sliding `size / slide`, cumulative `max_size / step`),
/// so one event's work and a key's state stay bounded.
pub const MAX_WINDOWS_PER_EVENT: i64 = 10_000;

fn need(field: &str, v: Option<i64>, problems: &mut Vec<ConfigProblem>, why: &str) -> i64 {
    v.unwrap_or_else(|| {
        problems.push(ConfigProblem::field(field, format!("{why} windows need `{field}`")));
        1
    })
}

fn unused(field: &str, v: Option<i64>, problems: &mut Vec<ConfigProblem>, ty: &str) {
    if v.is_some() {
        problems.push(ConfigProblem::field(field, format!("{ty} windows have no `{field}`; remove it")));
    }
}

impl Assigner {
    /// The assigner of a window type from its durations (ms), or the problems.
    pub fn from_parts(
        ty: WindowType,
        size: Option<i64>,
        slide: Option<i64>,
        offset: i64,
        gap: Option<i64>,
        step: Option<i64>,
        max_size: Option<i64>,
    ) -> Result<Assigner, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        let a = match ty {
            WindowType::Tumbling => {
                let size = need("size", size, &mut p, "tumbling");
                for (f, v) in [("slide", slide), ("gap", gap), ("step", step), ("max_size", max_size)] {
                    unused(f, v, &mut p, "tumbling");
                }
                Assigner::Tumbling { size, offset: offset.rem_euclid(size) }
            }
            WindowType::Sliding => {
                let size = need("size", size, &mut p, "sliding");
                let slide = need("slide", slide, &mut p, "sliding");
                for (f, v) in [("gap", gap), ("step", step), ("max_size", max_size)] {
                    unused(f, v, &mut p, "sliding");
                }
                if slide > size {
                    p.push(ConfigProblem::field("slide", "slide must not be longer than size"));
                } else if size / slide > MAX_WINDOWS_PER_EVENT {
                    p.push(ConfigProblem::field(
                        "slide",
                        format!("size / slide puts each event in more than {MAX_WINDOWS_PER_EVENT} windows"),
                    ));
                }
                Assigner::Sliding { size, slide, offset: offset.rem_euclid(slide) }
            }
            WindowType::Cumulative => {
                let step = need("step", step, &mut p, "cumulative");
                let max = need("max_size", max_size, &mut p, "cumulative");
                for (f, v) in [("size", size), ("slide", slide), ("gap", gap)] {
                    unused(f, v, &mut p, "cumulative");
                }
                if max % step != 0 {
                    p.push(ConfigProblem::field("max_size", "max_size must be a whole number of steps"));
                } else if max / step > MAX_WINDOWS_PER_EVENT {
                    p.push(ConfigProblem::field(
                        "step",
                        format!("max_size / step puts each event in more than {MAX_WINDOWS_PER_EVENT} windows"),
                    ));
                }
                Assigner::Cumulative { step, max, offset: offset.rem_euclid(max) }
            }
            WindowType::Count | WindowType::Global => {
                p.push(ConfigProblem::field("type", "count and global windows are not time windows"));
                Assigner::Session { gap: 1 }
            }
            WindowType::Session => {
                let gap = need("gap", gap, &mut p, "session");
                for (f, v) in [("size", size), ("slide", slide), ("step", step), ("max_size", max_size)] {
                    unused(f, v, &mut p, "session");
                }
                if offset != 0 {
                    p.push(ConfigProblem::field("offset", "session windows have no `offset`; remove it"));
                }
                Assigner::Session { gap }
            }
        };
        if p.is_empty() { Ok(a) } else { Err(p) }
    }

    /// Whether windows of a key merge (sessions).
    pub fn is_session(&self) -> bool {
        matches!(self, Assigner::Session { .. })
    }

    /// The windows holding time `t`, in order of their ends (the last ends last). A session
    /// gives the event's own window, to be merged with its key's.
    pub fn windows(&self, t: i64, out: &mut Vec<(i64, i64)>) {
        out.clear();
        match *self {
            Assigner::Tumbling { size, offset } => {
                let start = t - (t - offset).rem_euclid(size);
                out.push((start, start + size));
            }
            Assigner::Sliding { size, slide, offset } => {
                let last = t - (t - offset).rem_euclid(slide);
                let mut start = last - (size - 1) / slide * slide;
                while start <= last {
                    if start + size > t {
                        out.push((start, start + size));
                    }
                    start += slide;
                }
            }
            Assigner::Cumulative { step, max, offset } => {
                let base = t - (t - offset).rem_euclid(max);
                let first = t - (t - base).rem_euclid(step) + step;
                let mut end = first;
                while end <= base + max {
                    out.push((base, end));
                    end += step;
                }
            }
            Assigner::Session { gap } => out.push((t, t + gap)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wins(a: Assigner, t: i64) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        a.windows(t, &mut v);
        v
    }

    #[test]
    fn tumbling_aligns_to_the_epoch_plus_offset_also_before_it() {
        let a = Assigner::Tumbling { size: 10, offset: 0 };
        assert_eq!(wins(a, 0), [(0, 10)]);
        assert_eq!(wins(a, 19), [(10, 20)]);
        assert_eq!(wins(a, -1), [(-10, 0)]);
        assert_eq!(wins(Assigner::Tumbling { size: 10, offset: 3 }, 2), [(-7, 3)]);
    }

    #[test]
    fn sliding_gives_every_window_holding_the_time_in_end_order() {
        let a = Assigner::Sliding { size: 10, slide: 5, offset: 0 };
        assert_eq!(wins(a, 7), [(0, 10), (5, 15)]);
        assert_eq!(wins(a, 5), [(0, 10), (5, 15)]);
        assert_eq!(wins(a, 4), [(-5, 5), (0, 10)]);
        let b = Assigner::Sliding { size: 10, slide: 3, offset: 0 };
        assert_eq!(wins(b, 9), [(0, 10), (3, 13), (6, 16), (9, 19)]);
        assert_eq!(wins(b, 10), [(3, 13), (6, 16), (9, 19)]);
    }

    #[test]
    fn an_event_falls_in_at_most_ten_thousand_windows() {
        let ms = |s: i64, sl: i64| Assigner::from_parts(WindowType::Sliding, Some(s), Some(sl), 0, None, None, None);
        assert!(ms(10_000, 1).is_ok());
        assert_eq!(ms(10_001, 1).unwrap_err()[0].field.as_deref(), Some("slide"));
        let cu = |st: i64, m: i64| Assigner::from_parts(WindowType::Cumulative, None, None, 0, None, Some(st), Some(m));
        assert_eq!(cu(1, 3_600_000).unwrap_err()[0].field.as_deref(), Some("step"));
        assert!(cu(1000, 3_600_000).is_ok());
    }

    #[test]
    fn cumulative_windows_grow_by_step_up_to_max() {
        let a = Assigner::Cumulative { step: 10, max: 30, offset: 0 };
        assert_eq!(wins(a, 0), [(0, 10), (0, 20), (0, 30)]);
        assert_eq!(wins(a, 15), [(0, 20), (0, 30)]);
        assert_eq!(wins(a, 29), [(0, 30)]);
        assert_eq!(wins(a, 30), [(30, 40), (30, 50), (30, 60)]);
    }
}
