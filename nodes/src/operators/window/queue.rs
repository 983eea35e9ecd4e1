//! Windows waiting for the watermark to reach a time (their end, to fire; their end plus the
//! allowed lateness, to be dropped).
//!
//! Tumbling, sliding and cumulative windows of every key share their bounds: a thousand
//! keys' windows ending together are one group (a list) here, not a thousand ordered
//! entries, and the only window taken out early is one just added (found from the back).
//! Sessions are taken out on every event that extends one, from a group that may hold every
//! key ending at that millisecond: they keep one ordered entry per window instead, so taking
//! one out stays logarithmic however many keys share its time.

use std::collections::{BTreeMap, BTreeSet};

/// A window: its key's slot and its start.
pub type Waiting = (usize, i64);

/// Windows by the time they wait for.
pub enum TimeQueue {
    /// Lists by time, for windows that share their bounds across keys.
    Grouped {
        /// The windows of each time.
        groups: BTreeMap<i64, Vec<Waiting>>,
        /// Windows in all groups.
        len: usize,
    },
    /// One ordered entry per window, for sessions.
    Ordered(BTreeSet<(i64, Waiting)>),
}

impl TimeQueue {
    /// A queue for windows that share their bounds across keys.
    pub fn grouped() -> TimeQueue {
        TimeQueue::Grouped { groups: BTreeMap::new(), len: 0 }
    }

    /// A queue for sessions (windows taken out as they merge).
    pub fn ordered() -> TimeQueue {
        TimeQueue::Ordered(BTreeSet::new())
    }

    /// Adds a window waiting for `at`.
    pub fn insert(&mut self, at: i64, window: Waiting) {
        match self {
            TimeQueue::Grouped { groups, len } => {
                groups.entry(at).or_default().push(window);
                *len += 1;
            }
            TimeQueue::Ordered(set) => {
                set.insert((at, window));
            }
        }
    }

    /// Takes a window out; false when it was not waiting for `at`.
    pub fn remove(&mut self, at: i64, window: Waiting) -> bool {
        match self {
            TimeQueue::Grouped { groups, len } => {
                let Some(group) = groups.get_mut(&at) else { return false };
                // The window taken out early is the one just added: at the back.
                let Some(i) = group.iter().rposition(|w| *w == window) else { return false };
                group.remove(i);
                if group.is_empty() {
                    groups.remove(&at);
                }
                *len -= 1;
                true
            }
            TimeQueue::Ordered(set) => set.remove(&(at, window)),
        }
    }

    /// The earliest time a window waits for.
    pub fn first(&self) -> Option<i64> {
        match self {
            TimeQueue::Grouped { groups, .. } => groups.first_key_value().map(|(at, _)| *at),
            TimeQueue::Ordered(set) => set.first().map(|(at, _)| *at),
        }
    }

    /// Takes the windows waiting for the earliest time, if it is at most `upto`.
    pub fn pop_due(&mut self, upto: i64) -> Option<(i64, Vec<Waiting>)> {
        match self {
            TimeQueue::Grouped { groups, len } => {
                let group = groups.first_entry().filter(|g| *g.key() <= upto)?;
                let (at, windows) = group.remove_entry();
                *len -= windows.len();
                Some((at, windows))
            }
            TimeQueue::Ordered(set) => {
                let at = set.first().map(|(at, _)| *at).filter(|at| *at <= upto)?;
                let mut windows = Vec::new();
                while let Some(&(t, w)) = set.first()
                    && t == at
                {
                    set.pop_first();
                    windows.push(w);
                }
                Some((at, windows))
            }
        }
    }

    /// Windows waiting.
    pub fn len(&self) -> usize {
        match self {
            TimeQueue::Grouped { len, .. } => *len,
            TimeQueue::Ordered(set) => set.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both kinds answer alike (within a time, grouped keeps arrival order, ordered sorts;
    /// the window logic sorts what fires together).
    #[test]
    fn groups_by_time_and_pops_in_time_order() {
        for mut q in [TimeQueue::grouped(), TimeQueue::ordered()] {
            q.insert(20, (1, 10));
            q.insert(10, (2, 0));
            q.insert(20, (0, 10));
            q.insert(10, (3, 0));
            assert_eq!((q.len(), q.first()), (4, Some(10)));
            assert!(q.remove(10, (2, 0)));
            assert!(!q.remove(10, (2, 0)), "already gone");
            assert!(!q.remove(30, (1, 10)), "not at that time");
            assert_eq!(q.pop_due(9), None);
            assert_eq!(q.pop_due(15), Some((10, vec![(3, 0)])));
            assert_eq!(q.pop_due(15), None);
            let (at, mut due) = q.pop_due(i64::MAX).expect("the windows at 20");
            due.sort();
            assert_eq!((at, due), (20, vec![(0, 10), (1, 10)]));
            assert_eq!((q.len(), q.first()), (0, None));
            q.insert(5, (0, 0));
            assert!(q.remove(5, (0, 0)));
            assert_eq!((q.len(), q.first()), (0, None), "an emptied group is gone");
        }
    }
}
