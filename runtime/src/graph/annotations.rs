//! What a graph file keeps for people rather than for the executor (format 2 on): free-text
//! comments and named, coloured groups of nodes. The executor ignores both.

use serde::Deserialize;

use super::SourceMap;
use crate::problem::{Location, Problem};

/// A free-text note on the canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// Stable id, unique among comments.
    pub id: String,
    /// The note (may span lines).
    pub text: String,
    /// Top-left corner on the canvas.
    pub position: [f32; 2],
}

/// A named, coloured frame around nodes that move together.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Stable id, unique among groups.
    pub id: String,
    /// Title shown on the frame.
    pub name: String,
    /// Frame colour (red, green, blue).
    pub color: [u8; 3],
    /// Ids of the member nodes (a node is in at most one group).
    pub nodes: Vec<String>,
}

/// A comment as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommentV2 {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    position: (f32, f32),
}

/// A group as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupV2 {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default = "default_color")]
    color: (u8, u8, u8),
    #[serde(default)]
    nodes: Vec<String>,
}

/// The colour of a group that does not set one (a muted blue).
pub const DEFAULT_GROUP_COLOR: [u8; 3] = [90, 130, 200];

fn default_color() -> (u8, u8, u8) {
    let [r, g, b] = DEFAULT_GROUP_COLOR;
    (r, g, b)
}

/// Comments and groups read from a file, checked: ids unique, positions finite, members
/// existing nodes that belong to one group only. Every problem names the comment or group.
pub(super) fn convert(
    comments: Vec<CommentV2>,
    groups: Vec<GroupV2>,
    node_ids: &[&str],
    map: &SourceMap,
) -> Result<(Vec<Comment>, Vec<Group>), Vec<Problem>> {
    let mut problems = Vec::new();
    let place =
        |field: &str| Location { line_col: map.top_field(field), field: Some(field.to_string()), ..Default::default() };
    let mut seen = std::collections::HashSet::new();
    for c in &comments {
        if !seen.insert(c.id.as_str()) {
            problems.push(Problem::error(place("comments"), format!("comment id `{}` is used twice", c.id)));
        }
        let (x, y) = c.position;
        if !(x.is_finite() && y.is_finite() && x.abs() <= super::MAX_POSITION && y.abs() <= super::MAX_POSITION) {
            problems.push(Problem::error(
                place("comments"),
                format!("comment `{}`: position must be finite numbers within ±{:e}", c.id, super::MAX_POSITION),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut member_of = std::collections::HashMap::new();
    for g in &groups {
        if !seen.insert(g.id.as_str()) {
            problems.push(Problem::error(place("groups"), format!("group id `{}` is used twice", g.id)));
        }
        for n in &g.nodes {
            if !node_ids.contains(&n.as_str()) {
                problems.push(Problem::error(
                    place("groups"),
                    format!("group `{}` names node `{n}`, which does not exist", g.id),
                ));
            } else if let Some(other) = member_of.insert(n.as_str(), g.id.as_str()) {
                problems.push(Problem::error(
                    place("groups"),
                    format!("node `{n}` is in two groups, `{other}` and `{}`", g.id),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let comments = comments
        .into_iter()
        .map(|c| Comment { id: c.id, text: c.text, position: [c.position.0, c.position.1] })
        .collect();
    let groups = groups
        .into_iter()
        .map(|g| Group { id: g.id, name: g.name, color: [g.color.0, g.color.1, g.color.2], nodes: g.nodes })
        .collect();
    Ok((comments, groups))
}
