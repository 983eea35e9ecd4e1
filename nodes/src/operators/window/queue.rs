//! Windows waiting for the watermark to reach a time (their end, to fire; their end plus the
//! allowed lateness, to be dropped), grouped by that time.
//!
//! Tumbling and sliding windows of every key share their bounds, so a thousand keys' windows
//! ending at the same time are one group here, not a thousand ordered entries.

use std::collections::BTreeMap;

/// A window: its key's slot and its start.
pub type Waiting = (usize, i64);

/// Windows by the time they wait for.
#[derive(Default)]
pub struct TimeQueue {
    groups: BTreeMap<i64, Vec<Waiting>>,
    len: usize,
}

impl TimeQueue {
    /// Adds a window waiting for `at`.
    pub fn insert(&mut self, at: i64, window: Waiting) {
        self.groups.entry(at).or_default().push(window);
        self.len += 1;
    }

    /// Takes a window out; false when it was not waiting for `at`.
    pub fn remove(&mut self, at: i64, window: Waiting) -> bool {
        let Some(group) = self.groups.get_mut(&at) else { return false };
        let Some(i) = group.iter().position(|w| *w == window) else { return false };
        group.remove(i);
        if group.is_empty() {
            self.groups.remove(&at);
        }
        self.len -= 1;
        true
    }

    /// The earliest time a window waits for.
    pub fn first(&self) -> Option<i64> {
        self.groups.first_key_value().map(|(at, _)| *at)
    }

    /// Takes the windows waiting for the earliest time, if it is at most `upto`.
    pub fn pop_due(&mut self, upto: i64) -> Option<(i64, Vec<Waiting>)> {
        let group = self.groups.first_entry().filter(|g| *g.key() <= upto)?;
        let (at, windows) = group.remove_entry();
        self.len -= windows.len();
        Some((at, windows))
    }

    /// Windows waiting.
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_time_and_pops_in_time_order() {
        let mut q = TimeQueue::default();
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
        assert_eq!(q.pop_due(i64::MAX), Some((20, vec![(1, 10), (0, 10)])));
        assert_eq!((q.len(), q.first()), (0, None));
        q.insert(5, (0, 0));
        assert!(q.remove(5, (0, 0)));
        assert_eq!((q.len(), q.first()), (0, None), "an emptied group is gone");
    }
}
