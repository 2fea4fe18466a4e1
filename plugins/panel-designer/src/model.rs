//! Panel values and the validation of request bodies.
//!
//! Bodies are read as raw JSON and checked here, so every problem — a wrong type as much as an
//! out-of-range value — is one 400 `VALIDATION_ERROR` whose `details.field` is the dotted path
//! of the offending value (`drugs.1.doses_uM.0`). Unknown keys are refused the same way, so a
//! typo such as `doses_um` is reported instead of silently dropped.

use mint_sdk::PluginError;
use mint_sdk::serde_json::{Map, Value};
use serde::{Deserialize, Serialize};

/// Most characters of a panel or drug name (after trimming).
pub const MAX_NAME_CHARS: usize = 200;
/// Most characters of a panel's notes.
pub const MAX_NOTES_CHARS: usize = 10_000;
/// Most characters of one tag (after trimming).
pub const MAX_TAG_CHARS: usize = 100;

/// One drug of a panel and its doses in µM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drug {
    /// The drug's name, trimmed, non-empty.
    pub name: String,
    /// Its doses in µM, each finite and > 0, in the order given.
    #[serde(rename = "doses_uM")]
    pub doses_um: Vec<f64>,
}

/// A stored panel, as every route answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    /// Integer id, assigned by the database.
    pub id: i64,
    /// The experiment the panel belongs to.
    pub experiment_id: i64,
    /// Unique within the experiment (exact comparison after trimming).
    pub name: String,
    /// The drugs, in the order given.
    pub drugs: Vec<Drug>,
    /// Free text, or `null`.
    pub notes: Option<String>,
    /// Tags, or `null` when never set.
    pub tags: Option<Vec<String>>,
    /// Creation time, RFC 3339 UTC (`…Z`).
    pub created_at: String,
    /// Last change, RFC 3339 UTC (`…Z`).
    pub updated_at: String,
}

/// A validated `POST /panels` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPanel {
    /// The experiment (> 0).
    pub experiment_id: i64,
    /// Trimmed name.
    pub name: String,
    /// Drugs (default: none).
    pub drugs: Vec<Drug>,
    /// Notes (default `null`).
    pub notes: Option<String>,
    /// Tags (default `null`).
    pub tags: Option<Vec<String>>,
}

/// A validated `PATCH /panels/by-id/{id}` body: `None` leaves a field as it is; for the
/// nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PanelPatch {
    /// New name.
    pub name: Option<String>,
    /// New drug list (replaces the old one).
    pub drugs: Option<Vec<Drug>>,
    /// New notes, or `Some(None)` to clear.
    pub notes: Option<Option<String>>,
    /// New tags, or `Some(None)` to clear.
    pub tags: Option<Option<Vec<String>>>,
}

impl PanelPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.drugs.is_none() && self.notes.is_none() && self.tags.is_none()
    }

    /// Applies the patch to `panel` (timestamps untouched).
    pub fn apply_to(self, panel: &mut Panel) {
        if let Some(name) = self.name {
            panel.name = name;
        }
        if let Some(drugs) = self.drugs {
            panel.drugs = drugs;
        }
        if let Some(notes) = self.notes {
            panel.notes = notes;
        }
        if let Some(tags) = self.tags {
            panel.tags = tags;
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> PluginError {
    PluginError::validation(message.into()).with_field(field)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, PluginError> {
    value.as_object().ok_or_else(|| {
        invalid(
            field,
            format!("{field} must be an object, not {}", type_name(value)),
        )
    })
}

fn refuse_unknown_keys(
    map: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), PluginError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            let field = format!("{prefix}{key}");
            Err(invalid(
                &field,
                format!("Unknown field '{key}' (allowed: {})", allowed.join(", ")),
            ))
        }
        None => Ok(()),
    }
}

/// A trimmed, non-empty string of at most `max` characters.
fn text(value: &Value, field: &str, max: usize) -> Result<String, PluginError> {
    let Value::String(raw) = value else {
        return Err(invalid(
            field,
            format!("{field} must be a string, not {}", type_name(value)),
        ));
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} must have at most {max} characters"),
        ));
    }
    Ok(trimmed.to_string())
}

/// The panel name (field `name`).
pub fn panel_name(value: &Value) -> Result<String, PluginError> {
    text(value, "name", MAX_NAME_CHARS)
}

/// Notes: a string of at most [`MAX_NOTES_CHARS`] characters (kept verbatim) or `null`.
fn notes(value: &Value) -> Result<Option<String>, PluginError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > MAX_NOTES_CHARS => Err(invalid(
            "notes",
            format!("notes must have at most {MAX_NOTES_CHARS} characters"),
        )),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(invalid(
            "notes",
            format!("notes must be a string or null, not {}", type_name(other)),
        )),
    }
}

/// Tags: `null` or a list of trimmed, non-empty strings.
fn tags(value: &Value) -> Result<Option<Vec<String>>, PluginError> {
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, tag)| text(tag, &format!("tags.{i}"), MAX_TAG_CHARS))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(invalid(
            "tags",
            format!(
                "tags must be a list of strings or null, not {}",
                type_name(other)
            ),
        )),
    }
}

/// The drug list (field `drugs`): each `{name, doses_uM}`, names unique within the panel,
/// at least one dose per drug, every dose a number > 0.
pub fn drugs(value: &Value) -> Result<Vec<Drug>, PluginError> {
    let Value::Array(items) = value else {
        return Err(invalid(
            "drugs",
            format!("drugs must be a list, not {}", type_name(value)),
        ));
    };
    let mut out: Vec<Drug> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("drugs.{i}");
        let map = object(item, &prefix)?;
        refuse_unknown_keys(map, &["name", "doses_uM"], &format!("{prefix}."))?;
        let name_field = format!("{prefix}.name");
        let name = text(
            map.get("name").unwrap_or(&Value::Null),
            &name_field,
            MAX_NAME_CHARS,
        )?;
        if out.iter().any(|d| d.name == name) {
            return Err(invalid(
                &name_field,
                format!("Drug '{name}' appears more than once in the panel"),
            ));
        }
        let doses_field = format!("{prefix}.doses_uM");
        let doses = match map.get("doses_uM") {
            Some(Value::Array(doses)) => doses,
            Some(other) => {
                return Err(invalid(
                    &doses_field,
                    format!(
                        "{doses_field} must be a list of numbers, not {}",
                        type_name(other)
                    ),
                ));
            }
            None => return Err(invalid(&doses_field, format!("{doses_field} is required"))),
        };
        if doses.is_empty() {
            return Err(invalid(
                &doses_field,
                format!("{doses_field} must have at least one dose"),
            ));
        }
        let mut doses_um = Vec::with_capacity(doses.len());
        for (j, dose) in doses.iter().enumerate() {
            let field = format!("{doses_field}.{j}");
            match dose.as_f64() {
                Some(d) if d.is_finite() && d > 0.0 => doses_um.push(d),
                Some(_) => {
                    return Err(invalid(&field, format!("{field} must be greater than 0"))
                        .with_value(dose.clone()));
                }
                None => {
                    return Err(invalid(
                        &field,
                        format!("{field} must be a number, not {}", type_name(dose)),
                    ));
                }
            }
        }
        out.push(Drug { name, doses_um });
    }
    Ok(out)
}

/// Validates a `POST /panels` body.
///
/// Errors: `Validation` naming the first bad field (`__root__` for a body that is no object).
pub fn new_panel(body: &Value) -> Result<NewPanel, PluginError> {
    let map = object(body, "__root__")?;
    refuse_unknown_keys(
        map,
        &["experiment_id", "name", "drugs", "notes", "tags"],
        "",
    )?;
    let experiment_id = match map.get("experiment_id") {
        Some(v) => match v.as_i64() {
            Some(id) if id > 0 => id,
            _ => {
                return Err(
                    invalid("experiment_id", "experiment_id must be a positive integer")
                        .with_value(v.clone()),
                );
            }
        },
        None => return Err(invalid("experiment_id", "experiment_id is required")),
    };
    let name = match map.get("name") {
        Some(v) => panel_name(v)?,
        None => return Err(invalid("name", "name is required")),
    };
    Ok(NewPanel {
        experiment_id,
        name,
        drugs: match map.get("drugs") {
            Some(v) => drugs(v)?,
            None => Vec::new(),
        },
        notes: map.get("notes").map(notes).transpose()?.flatten(),
        tags: map.get("tags").map(tags).transpose()?.flatten(),
    })
}

/// Validates a `PATCH` body: any of `name`, `drugs`, `notes`, `tags`; `experiment_id` cannot
/// change (move a panel by creating it in the other experiment).
///
/// Errors: `Validation` naming the first bad field.
pub fn panel_patch(body: &Value) -> Result<PanelPatch, PluginError> {
    let map = object(body, "__root__")?;
    if map.contains_key("experiment_id") {
        return Err(invalid("experiment_id", "experiment_id cannot be changed"));
    }
    refuse_unknown_keys(map, &["name", "drugs", "notes", "tags"], "")?;
    Ok(PanelPatch {
        name: map.get("name").map(panel_name).transpose()?,
        drugs: map.get("drugs").map(drugs).transpose()?,
        notes: map.get("notes").map(notes).transpose()?,
        tags: map.get("tags").map(tags).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mint_sdk::serde_json::json;

    fn field_of(err: PluginError) -> Value {
        err.details().get("field").cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn a_valid_body_is_trimmed_and_defaults_apply() {
        let p = new_panel(&json!({"experiment_id": 3, "name": "  Panel A ",
            "drugs": [{"name": " cisplatin", "doses_uM": [0.1, 1, 10]}]}))
        .expect("valid");
        assert_eq!(p.name, "Panel A");
        assert_eq!(p.drugs[0].name, "cisplatin");
        assert_eq!(p.drugs[0].doses_um, [0.1, 1.0, 10.0]);
        assert_eq!((p.notes, p.tags), (None, None));
    }

    #[test]
    fn every_problem_names_its_field() {
        let cases = [
            (json!([]), "__root__"),
            (json!({"name": "a"}), "experiment_id"),
            (json!({"experiment_id": 0, "name": "a"}), "experiment_id"),
            (json!({"experiment_id": "1", "name": "a"}), "experiment_id"),
            (json!({"experiment_id": 1}), "name"),
            (json!({"experiment_id": 1, "name": "   "}), "name"),
            (json!({"experiment_id": 1, "name": "x".repeat(201)}), "name"),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": {}}),
                "drugs",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [3]}),
                "drugs.0",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"doses_uM": [1]}]}),
                "drugs.0.name",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d"}]}),
                "drugs.0.doses_uM",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_uM": []}]}),
                "drugs.0.doses_uM",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_uM": [1]}, {"name": "e", "doses_uM": [-1]}]}),
                "drugs.1.doses_uM.0",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_uM": [1, "2"]}]}),
                "drugs.0.doses_uM.1",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_um": [1]}]}),
                "drugs.0.doses_um",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "drugs": [{"name": "d", "doses_uM": [1]}, {"name": "d", "doses_uM": [2]}]}),
                "drugs.1.name",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "tags": ["ok", ""]}),
                "tags.1",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "notes": 5}),
                "notes",
            ),
            (
                json!({"experiment_id": 1, "name": "a", "colour": "red"}),
                "colour",
            ),
        ];
        for (body, field) in cases {
            let err = new_panel(&body).expect_err(&body.to_string());
            assert_eq!(err.status().as_u16(), 400, "{body}");
            assert_eq!(field_of(err), json!(field), "{body}");
        }
    }

    #[test]
    fn a_name_of_exactly_200_characters_is_accepted() {
        let name = "é".repeat(200);
        let p = new_panel(&json!({"experiment_id": 1, "name": name})).expect("valid");
        assert_eq!(p.name.chars().count(), 200);
    }

    #[test]
    fn patch_is_partial_and_clears_nullable_fields() {
        let patch = panel_patch(&json!({"notes": null, "tags": ["x"]})).expect("valid");
        assert_eq!(patch.name, None);
        assert_eq!(patch.notes, Some(None));
        assert_eq!(patch.tags, Some(Some(vec!["x".to_string()])));
        assert!(panel_patch(&json!({})).expect("valid").is_empty());
        assert_eq!(
            field_of(panel_patch(&json!({"name": null})).expect_err("null name")),
            json!("name")
        );
        assert_eq!(
            field_of(panel_patch(&json!({"experiment_id": 2})).expect_err("moved")),
            json!("experiment_id")
        );
        assert_eq!(
            field_of(panel_patch(&json!({"id": 2})).expect_err("id")),
            json!("id")
        );
    }
}
