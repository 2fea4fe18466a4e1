//! Generic exporters that turn any JSON object — typically an analysis result — into what the
//! platform's viewers show: a navigable tree ([`auto_json_to_tree`]), a CSV download
//! ([`auto_json_to_csv`]) and a summary of metadata and tables ([`auto_json_to_summary`])
//! (`spec/app-testing-export.md` §5).
//!
//! They are the defaults behind [`AnalysisPlugin::export_tree`],
//! [`AnalysisPlugin::export_csv`] and [`AnalysisPlugin::export_summary`] (`spec/plugin.md`
//! §6.8). They know nothing about a plugin's result shape; a plugin whose results have a known
//! shape (a target table, a plate layout) overrides those methods instead of changing these.
//!
//! Shared rules:
//! - the input's key order is kept in every output (serde_json's `preserve_order`);
//! - values print in JSON spelling (`true`, `null`, `0.5`, `1.0`, `["a","b"]`), where the Python
//!   SDK prints `True`, `None` and `['a', 'b']`;
//! - a value is *empty* when it is `null`, a string of only whitespace, `[]` or `{}` (`0` and
//!   `false` are not empty);
//! - ids of nested entries are the parent's id, a `.`, and the key or array index
//!   (`plates.0.samples`).
//!
//! Every JSON object has an export: these functions never fail and never panic.
//!
//! [`AnalysisPlugin::export_tree`]: crate::AnalysisPlugin::export_tree
//! [`AnalysisPlugin::export_csv`]: crate::AnalysisPlugin::export_csv
//! [`AnalysisPlugin::export_summary`]: crate::AnalysisPlugin::export_summary

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use crate::error::JsonObject;

/// The keys [`find_label`] looks at, in the order it tries them. In compact trees these keys
/// are never listed as an item's members (spec §5.1), even when another key gave the label.
pub const LABEL_KEYS: [&str; 6] = ["name", "label", "id", "title", "plate_name", "sample_name"];

/// One node of the tree [`auto_json_to_tree`] builds, serialized exactly as the platform's tree
/// viewer reads it (spec §5.1):
///
/// ```json
/// {"id": "plates.0", "label": "P1", "type": "custom",
///  "children": [...], "badge": 2, "metadata": {"key": "k", "value": 5}}
/// ```
///
/// `id`, `label` and `type` are always present; `children`, `badge` and `metadata` only when
/// set (see [`Badge`] for the difference between no badge and `"badge": null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Dotted path of the node in the input (`params.k`, `samples.1`).
    pub id: String,
    /// What the viewer shows (`count: 3`, `params (k: 5, mode: fast)`, `S1 (conc: 0.5)`).
    pub label: String,
    /// The kind of entry, which picks the viewer's icon (JSON key `type`).
    #[serde(rename = "type")]
    pub node_type: TreeNodeType,
    /// The node's children; `None` for a leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<TreeNode>>,
    /// The count shown next to the label.
    #[serde(default, skip_serializing_if = "Badge::is_absent")]
    pub badge: Badge,
    /// The member a scalar leaf was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TreeNodeMetadata>,
}

impl TreeNode {
    /// A node without children, badge or metadata.
    fn leaf(id: String, label: String, node_type: TreeNodeType) -> Self {
        Self {
            id,
            label,
            node_type,
            children: None,
            badge: Badge::Absent,
            metadata: None,
        }
    }

    /// A node with children and the given badge.
    fn branch(
        id: String,
        label: String,
        node_type: TreeNodeType,
        children: Vec<TreeNode>,
        badge: Badge,
    ) -> Self {
        Self {
            children: Some(children),
            badge,
            ..Self::leaf(id, label, node_type)
        }
    }
}

/// `metadata` of a scalar [`TreeNode`]: `{"key": <member key>, "value": <raw value>}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNodeMetadata {
    /// The member's key (not the dotted id).
    pub key: String,
    /// The member's value, unchanged.
    pub value: Value,
}

/// The kind of a [`TreeNode`] (its JSON `type`), from [`infer_type`] on the member's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeNodeType {
    /// `"plate"`: a `plate` / `plates` member.
    Plate,
    /// `"sample"`: a `sample` / `samples` member.
    Sample,
    /// `"treatment"`: a `treatment` / `treatments` member.
    Treatment,
    /// `"cell_line"`: a `cell_line` / `cell_lines` member.
    CellLine,
    /// `"experiment"`: an `experiment` / `experiments` member.
    Experiment,
    /// `"study"`: a `study` / `studies` member.
    Study,
    /// `"clone"`: a `clone` / `clones` member.
    Clone,
    /// `"passage"`: a `passage` / `passages` member.
    Passage,
    /// `"folder"`: an object member whose key names none of the kinds above.
    Folder,
    /// `"custom"`: anything else (scalars, array items, arrays of unknown kind).
    Custom,
}

/// The `badge` of a [`TreeNode`], which has three wire forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Badge {
    /// No `badge` key (leaves, and array items of non-compact trees).
    #[default]
    Absent,
    /// `"badge": null`, written explicitly: an array item of a compact tree that has children
    /// but shows no count.
    Null,
    /// `"badge": n`: the number of children of an object or array member.
    Count(usize),
}

impl Badge {
    /// Whether the node has no `badge` key at all.
    pub fn is_absent(&self) -> bool {
        matches!(self, Badge::Absent)
    }
}

impl Serialize for Badge {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Badge::Absent | Badge::Null => serializer.serialize_none(),
            Badge::Count(n) => serializer.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for Badge {
    /// `null` → [`Badge::Null`], a count → [`Badge::Count`]; a missing key is
    /// [`Badge::Absent`] through the field's `#[serde(default)]`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<usize>::deserialize(deserializer)? {
            Some(n) => Badge::Count(n),
            None => Badge::Null,
        })
    }
}

// ----- helpers of spec §5 ---------------------------------------------------------------------

/// `show(v)`: strings verbatim, everything else in compact JSON spelling.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A CSV cell: [`show`], with `null` as an empty cell.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => show(other),
    }
}

/// `is_empty(v)`: `null`, a blank string, `[]` or `{}`.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// `is_scalar(v)`: neither array nor object.
fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// `truthy(v)`: Python truthiness — not `null`, `false`, `0`, `0.0`, `""`, `[]` or `{}`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
    }
}

/// A non-empty and scalar member: what labels, summary metadata and summary columns keep.
fn is_shown_scalar(value: &Value) -> bool {
    is_scalar(value) && !is_empty(value)
}

/// The id of a child: `parent.key`, or just `key` under the root (empty parent id).
fn child_id(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The rows of a *table*: a non-empty array whose first element is an object.
fn table_rows(value: &Value) -> Option<&[Value]> {
    let rows = value.as_array()?;
    rows.first()?.is_object().then_some(rows.as_slice())
}

/// `head`, or `head (k: v, k2: v2)` over the given members.
fn label_with_members<'a>(
    head: &str,
    members: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> String {
    let listed: Vec<String> = members
        .into_iter()
        .map(|(k, v)| format!("{k}: {}", show(v)))
        .collect();
    if listed.is_empty() {
        head.to_string()
    } else {
        format!("{head} ({})", listed.join(", "))
    }
}

/// The label of an array element that is an object (spec §5 `find_label`): the value of the
/// first of [`LABEL_KEYS`] (`name`, `label`, `id`, `title`, `plate_name`, `sample_name`) whose
/// value is truthy — not `null`, `false`, `0`, `""`, `[]` or `{}` — printed as a string
/// (`"S1"`, `"42"`); else `"[index]"`.
///
/// ```
/// use mint_sdk::export::find_label;
/// let item = mint_sdk::serde_json::json!({"name": "", "id": 7});
/// assert_eq!(find_label(item.as_object().unwrap(), 3), "7");
/// assert_eq!(find_label(&Default::default(), 3), "[3]");
/// ```
pub fn find_label(item: &JsonObject, index: usize) -> String {
    LABEL_KEYS
        .iter()
        .filter_map(|key| item.get(*key))
        .find(|value| truthy(value))
        .map(show)
        .unwrap_or_else(|| format!("[{index}]"))
}

/// The [`TreeNodeType`] a member's key suggests (spec §5 `infer_type`), case-insensitively:
/// `plate`/`plates` → [`Plate`](TreeNodeType::Plate), `sample(s)`, `treatment(s)`,
/// `cell_line(s)`, `experiment(s)`, `study`/`studies`, `clone(s)`, `passage(s)` likewise;
/// any other key → [`Custom`](TreeNodeType::Custom). The whole key must match: `plate_name`
/// is `Custom`.
pub fn infer_type(key: &str) -> TreeNodeType {
    match key.to_lowercase().as_str() {
        "plate" | "plates" => TreeNodeType::Plate,
        "sample" | "samples" => TreeNodeType::Sample,
        "treatment" | "treatments" => TreeNodeType::Treatment,
        "cell_line" | "cell_lines" => TreeNodeType::CellLine,
        "experiment" | "experiments" => TreeNodeType::Experiment,
        "study" | "studies" => TreeNodeType::Study,
        "clone" | "clones" => TreeNodeType::Clone,
        "passage" | "passages" => TreeNodeType::Passage,
        _ => TreeNodeType::Custom,
    }
}

/// A member key as a section heading (spec §5 `humanize_key`): `_` becomes a space, then each
/// letter is uppercased when it starts the key or follows a non-letter and lowercased
/// otherwise (Python's `str.title()`).
///
/// ```
/// use mint_sdk::export::humanize_key;
/// assert_eq!(humanize_key("cell_line"), "Cell Line");
/// assert_eq!(humanize_key("IC50_values"), "Ic50 Values");
/// assert_eq!(humanize_key("a1b"), "A1B");
/// assert_eq!(humanize_key("dose-response"), "Dose-Response");
/// ```
pub fn humanize_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut after_letter = false;
    for c in key.chars().map(|c| if c == '_' { ' ' } else { c }) {
        if after_letter {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        after_letter = c.is_alphabetic();
    }
    out
}

// ----- tree (§5.1) ----------------------------------------------------------------------------

/// The object as a tree for the platform's tree viewer (spec §5.1), one node per member in input
/// order.
///
/// - A scalar member `k` is a leaf `"k: value"` of type `custom` with `metadata`
///   `{"key": k, "value": <raw>}`.
/// - An object member is a `folder` (or the [`infer_type`] of its key) with its members as
///   children and their count as badge.
/// - An array member is a node of type [`infer_type`] with one child per element (labelled
///   `"[i]: value"`, or by [`find_label`] for objects) and their count as badge.
///
/// `compact = true` (what [`AnalysisPlugin::export_tree`](crate::AnalysisPlugin::export_tree)
/// uses) makes the tree smaller: empty members are left out, an object of scalars becomes one
/// leaf `"k (a: x, b: y)"`, and an object in an array becomes one leaf `"S1 (conc: 0.5)"`
/// listing its non-empty scalars (not the [`LABEL_KEYS`]), or — when it has non-empty arrays or
/// objects — a node whose children are those scalars followed by the nested tree, with
/// `"badge": null`. Array elements are never left out.
///
/// ```
/// use mint_sdk::auto_json_to_tree;
/// let data = mint_sdk::serde_json::json!({"count": 3, "params": {"k": 5}});
/// let tree = auto_json_to_tree(data.as_object().unwrap(), true);
/// assert_eq!(
///     mint_sdk::serde_json::to_string(&tree).unwrap(),
///     r#"[{"id":"count","label":"count: 3","type":"custom","metadata":{"key":"count","value":3}},{"id":"params","label":"params (k: 5)","type":"folder"}]"#
/// );
/// ```
pub fn auto_json_to_tree(data: &JsonObject, compact: bool) -> Vec<TreeNode> {
    member_nodes(data, compact, "")
}

/// One node per member (leaving out empty ones when compact).
fn member_nodes<'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Value)>,
    compact: bool,
    parent_id: &str,
) -> Vec<TreeNode> {
    members
        .into_iter()
        .filter(|(_, value)| !(compact && is_empty(value)))
        .map(|(key, value)| member_node(key, value, compact, child_id(parent_id, key)))
        .collect()
}

fn member_node(key: &str, value: &Value, compact: bool, id: String) -> TreeNode {
    match value {
        Value::Object(members) => {
            let node_type = match infer_type(key) {
                TreeNodeType::Custom => TreeNodeType::Folder,
                known => known,
            };
            if compact && members.values().all(is_scalar) {
                let shown = members.iter().filter(|(_, v)| !is_empty(v));
                TreeNode::leaf(id, label_with_members(key, shown), node_type)
            } else {
                let children = member_nodes(members, compact, &id);
                let badge = Badge::Count(children.len());
                TreeNode::branch(id, key.to_string(), node_type, children, badge)
            }
        }
        Value::Array(items) => {
            let children: Vec<TreeNode> = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    array_item_node(index, item, compact, child_id(&id, &index.to_string()))
                })
                .collect();
            let badge = Badge::Count(children.len());
            TreeNode::branch(id, key.to_string(), infer_type(key), children, badge)
        }
        scalar => TreeNode {
            metadata: Some(TreeNodeMetadata {
                key: key.to_string(),
                value: scalar.clone(),
            }),
            ..TreeNode::leaf(id, format!("{key}: {}", show(scalar)), TreeNodeType::Custom)
        },
    }
}

fn array_item_node(index: usize, item: &Value, compact: bool, id: String) -> TreeNode {
    let Value::Object(members) = item else {
        let label = format!("[{index}]: {}", show(item));
        return TreeNode::leaf(id, label, TreeNodeType::Custom);
    };
    let label = find_label(members, index);
    if !compact {
        let children = member_nodes(members, false, &id);
        return TreeNode::branch(id, label, TreeNodeType::Custom, children, Badge::Absent);
    }
    let visible: Vec<(&String, &Value)> = members
        .iter()
        .filter(|(key, value)| is_shown_scalar(value) && !LABEL_KEYS.contains(&key.as_str()))
        .collect();
    let nested = member_nodes(
        members
            .iter()
            .filter(|(_, value)| !is_scalar(value) && !is_empty(value)),
        true,
        &id,
    );
    if nested.is_empty() {
        return TreeNode::leaf(
            id,
            label_with_members(&label, visible),
            TreeNodeType::Custom,
        );
    }
    let children = visible
        .into_iter()
        .map(|(key, value)| {
            TreeNode::leaf(
                child_id(&id, key),
                format!("{key}: {}", show(value)),
                TreeNodeType::Custom,
            )
        })
        .chain(nested)
        .collect();
    TreeNode::branch(id, label, TreeNodeType::Custom, children, Badge::Null)
}

// ----- CSV (§5.2) -----------------------------------------------------------------------------

/// The object as CSV text (spec §5.2).
///
/// When some top-level members are *tables* — non-empty arrays whose first element is an
/// object — only those are written, each as a block `# <key>\n`, a header (the union of the
/// rows' keys, first seen first) and one record per row (`""` for a missing key, an all-empty
/// record for a row that is not an object); blocks are separated by an empty line. Otherwise
/// the object is written as `key,value` records, one per leaf, nested objects flattened to
/// dotted keys (`params.k`) and arrays written as one JSON cell.
///
/// Byte-level rules (parity with the Python SDK): records end with `\r\n`, the `# key` lines
/// and the separator with `\n`; a cell containing `,`, `"`, `\r` or `\n` is quoted with inner
/// `"` doubled; `null` is an empty cell; a record of one empty cell is written `""`.
///
/// ```
/// use mint_sdk::auto_json_to_csv;
/// let data = mint_sdk::serde_json::json!({"name": "Run 1", "params": {"k": 5}});
/// assert_eq!(auto_json_to_csv(data.as_object().unwrap()), "key,value\r\nname,Run 1\r\nparams.k,5\r\n");
/// ```
pub fn auto_json_to_csv(data: &JsonObject) -> String {
    let tables: Vec<(&String, &[Value])> = data
        .iter()
        .filter_map(|(key, value)| table_rows(value).map(|rows| (key, rows)))
        .collect();
    let mut out = String::new();
    if tables.is_empty() {
        write_record(&mut out, &["key".to_string(), "value".to_string()]);
        write_flattened(&mut out, data, "");
        return out;
    }
    for (n, (key, rows)) in tables.into_iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str("# ");
        out.push_str(key);
        out.push('\n');
        let columns = union_of_keys(rows);
        let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        write_record(&mut out, &header);
        for row in rows {
            let record: Vec<String> = columns
                .iter()
                .map(|column| {
                    row.as_object()
                        .and_then(|members| members.get(*column))
                        .map(cell)
                        .unwrap_or_default()
                })
                .collect();
            write_record(&mut out, &record);
        }
    }
    out
}

/// One `key,value` record per leaf of `members`, objects flattened under dotted keys.
fn write_flattened(out: &mut String, members: &JsonObject, prefix: &str) {
    for (key, value) in members {
        let key = child_id(prefix, key);
        match value {
            Value::Object(inner) => write_flattened(out, inner, &key),
            leaf => {
                let value = cell(leaf);
                write_record(out, &[key, value]);
            }
        }
    }
}

/// Keys of the object rows, each once, in first-seen order.
fn union_of_keys(rows: &[Value]) -> Vec<&str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut keys = Vec::new();
    for members in rows.iter().filter_map(Value::as_object) {
        for key in members.keys() {
            if seen.insert(key.as_str()) {
                keys.push(key.as_str());
            }
        }
    }
    keys
}

/// One CSV record ending in `\r\n`, quoting cells as Python's `csv` module does.
fn write_record(out: &mut String, cells: &[String]) {
    if let [only] = cells
        && only.is_empty()
    {
        // A lone empty cell would be an empty line, which readers take as no record.
        out.push_str("\"\"\r\n");
        return;
    }
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
}

// ----- summary (§5.3) -------------------------------------------------------------------------

/// The object as a summary of metadata and tables (spec §5.3):
///
/// ```json
/// {"metadata": {"name": "Run 1", "params.k": 5, "tags": ["a", "b"]},
///  "sections": [
///    {"key": "samples", "label": "Samples", "type": "table",
///     "columns": ["id", "name"], "rows": [{"id": 1, "name": "S1"}], "row_count": 1},
///    {"key": "plates", "label": "Plates", "type": "group", "items": [
///      {"label": "P1", "metadata": {"plate_name": "P1"}, "item_count": 2,
///       "item_key": "samples", "columns": [...], "rows": [...]}]}]}
/// ```
///
/// Member by member, in input order:
/// - a non-empty array whose first element is an object is a section, labelled with
///   [`humanize_key`]: a `"group"` when that first element itself has such an array member
///   (the first one is the `item_key`; each element becomes an item with its [`find_label`],
///   its non-empty scalar members as `metadata`, and its `item_key` rows as a table), else a
///   `"table"` of the rows;
/// - an object contributes its non-empty scalar members as `metadata["key.member"]` (deeper
///   levels are dropped);
/// - anything else non-empty goes to `metadata[key]` unchanged.
///
/// A table's `columns` are the rows' keys (first seen first) that have a non-empty scalar
/// value in at least one row; each row has exactly those columns (`null` when missing, values
/// unchanged). Rows that are not objects count as `{}`.
pub fn auto_json_to_summary(data: &JsonObject) -> Value {
    let mut metadata = JsonObject::new();
    let mut sections = Vec::new();
    for (key, value) in data {
        if let Some(rows) = table_rows(value) {
            sections.push(summary_section(key, rows));
        } else if let Value::Object(members) = value {
            for (member, v) in members.iter().filter(|(_, v)| is_shown_scalar(v)) {
                metadata.insert(format!("{key}.{member}"), v.clone());
            }
        } else if !is_empty(value) {
            metadata.insert(key.clone(), value.clone());
        }
    }
    json!({"metadata": metadata, "sections": sections})
}

fn summary_section(key: &str, rows: &[Value]) -> Value {
    let item_key = rows.first().and_then(Value::as_object).and_then(|first| {
        first
            .iter()
            .find(|(_, value)| table_rows(value).is_some())
            .map(|(k, _)| k.as_str())
    });
    let label = humanize_key(key);
    match item_key {
        None => {
            let (columns, table) = summary_table(rows);
            json!({
                "key": key,
                "label": label,
                "type": "table",
                "columns": columns,
                "rows": table,
                "row_count": rows.len(),
            })
        }
        Some(item_key) => {
            let items: Vec<Value> = rows
                .iter()
                .enumerate()
                .map(|(index, element)| group_item(index, element, item_key))
                .collect();
            json!({"key": key, "label": label, "type": "group", "items": items})
        }
    }
}

fn group_item(index: usize, element: &Value, item_key: &str) -> Value {
    let no_members = JsonObject::new();
    let members = element.as_object().unwrap_or(&no_members);
    let metadata: JsonObject = members
        .iter()
        .filter(|(_, value)| is_shown_scalar(value))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let nested: &[Value] = members
        .get(item_key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let (columns, rows) = summary_table(nested);
    json!({
        "label": find_label(members, index),
        "metadata": metadata,
        "item_count": nested.len(),
        "item_key": item_key,
        "columns": columns,
        "rows": rows,
    })
}

/// The shown columns of `rows` and the rows cut to exactly those columns.
fn summary_table(rows: &[Value]) -> (Vec<&str>, Vec<Value>) {
    let columns: Vec<&str> = union_of_keys(rows)
        .into_iter()
        .filter(|column| {
            rows.iter()
                .filter_map(Value::as_object)
                .any(|members| members.get(*column).is_some_and(is_shown_scalar))
        })
        .collect();
    let table = rows
        .iter()
        .map(|row| {
            let members = row.as_object();
            let cut: JsonObject = columns
                .iter()
                .map(|column| {
                    let value = members
                        .and_then(|m| m.get(*column))
                        .cloned()
                        .unwrap_or(Value::Null);
                    (column.to_string(), value)
                })
                .collect();
            Value::Object(cut)
        })
        .collect();
    (columns, table)
}
