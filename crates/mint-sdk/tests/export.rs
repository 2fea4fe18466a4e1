//! The generic exporters against the worked examples of `spec/app-testing-export.md` §5, compared
//! byte for byte on their serialized form (so key order counts), plus the helper rules.

use std::sync::Arc;

use axum::Router;
use mint_sdk::export::{Badge, TreeNodeType, find_label, humanize_key, infer_type};
use mint_sdk::{
    AnalysisPlugin, JsonObject, PluginCore, PluginMetadata, TreeNode, auto_json_to_csv,
    auto_json_to_summary, auto_json_to_tree,
};

fn object(text: &str) -> JsonObject {
    serde_json::from_str(text).expect("test input is a JSON object")
}

fn compact_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serializable")
}

const T1_INPUT: &str =
    r#"{"name":"Run 1","count":3,"empty":"","params":{"k":5,"mode":"fast"},"tags":["a","b"]}"#;
const T2_INPUT: &str = r#"{"experiment":"EXP-1","samples":[{"id":1,"name":"S1","conc":0.5,"note":""},{"id":2,"name":"S2","conc":null,"extra":"x"}]}"#;

// ----- tree (§5.1) ----------------------------------------------------------------------------

#[test]
fn compact_tree_leaves_out_empty_members_and_inlines_objects_of_scalars() {
    let expected = concat!(
        r#"[{"id":"name","label":"name: Run 1","type":"custom","metadata":{"key":"name","value":"Run 1"}},"#,
        r#"{"id":"count","label":"count: 3","type":"custom","metadata":{"key":"count","value":3}},"#,
        r#"{"id":"params","label":"params (k: 5, mode: fast)","type":"folder"},"#,
        r#"{"id":"tags","label":"tags","type":"custom","children":[{"id":"tags.0","label":"[0]: a","type":"custom"},{"id":"tags.1","label":"[1]: b","type":"custom"}],"badge":2}]"#,
    );
    let tree = auto_json_to_tree(&object(T1_INPUT), true);
    assert_eq!(compact_json(&tree), expected);
}

#[test]
fn full_tree_keeps_empty_members_and_nests_objects_with_a_count_badge() {
    let expected = concat!(
        r#"[{"id":"name","label":"name: Run 1","type":"custom","metadata":{"key":"name","value":"Run 1"}},"#,
        r#"{"id":"count","label":"count: 3","type":"custom","metadata":{"key":"count","value":3}},"#,
        r#"{"id":"empty","label":"empty: ","type":"custom","metadata":{"key":"empty","value":""}},"#,
        r#"{"id":"params","label":"params","type":"folder","children":[{"id":"params.k","label":"k: 5","type":"custom","metadata":{"key":"k","value":5}},{"id":"params.mode","label":"mode: fast","type":"custom","metadata":{"key":"mode","value":"fast"}}],"badge":2},"#,
        r#"{"id":"tags","label":"tags","type":"custom","children":[{"id":"tags.0","label":"[0]: a","type":"custom"},{"id":"tags.1","label":"[1]: b","type":"custom"}],"badge":2}]"#,
    );
    let tree = auto_json_to_tree(&object(T1_INPUT), false);
    assert_eq!(compact_json(&tree), expected);
}

#[test]
fn compact_tree_labels_array_objects_by_name_and_lists_their_other_scalars() {
    let expected = concat!(
        r#"[{"id":"experiment","label":"experiment: EXP-1","type":"custom","metadata":{"key":"experiment","value":"EXP-1"}},"#,
        r#"{"id":"samples","label":"samples","type":"sample","children":[{"id":"samples.0","label":"S1 (conc: 0.5)","type":"custom"},{"id":"samples.1","label":"S2 (extra: x)","type":"custom"}],"badge":2}]"#,
    );
    let tree = auto_json_to_tree(&object(T2_INPUT), true);
    assert_eq!(compact_json(&tree), expected);
}

const T3_INPUT: &str = r#"{"plates":[{"plate_name":"P1","barcode":"B01","samples":[{"well":"A1","meta":{"a":1}},{"well":"A2","drug":null}]}]}"#;

#[test]
fn compact_tree_items_with_nested_members_list_scalars_first_and_get_a_null_badge() {
    let expected = concat!(
        r#"[{"id":"plates","label":"plates","type":"plate","children":[{"id":"plates.0","label":"P1","type":"custom","children":["#,
        r#"{"id":"plates.0.barcode","label":"barcode: B01","type":"custom"},"#,
        r#"{"id":"plates.0.samples","label":"samples","type":"sample","children":["#,
        r#"{"id":"plates.0.samples.0","label":"[0]","type":"custom","children":[{"id":"plates.0.samples.0.well","label":"well: A1","type":"custom"},{"id":"plates.0.samples.0.meta","label":"meta (a: 1)","type":"folder"}],"badge":null},"#,
        r#"{"id":"plates.0.samples.1","label":"[1] (well: A2)","type":"custom"}],"badge":2}],"badge":null}],"badge":1}]"#,
    );
    let tree = auto_json_to_tree(&object(T3_INPUT), true);
    assert_eq!(compact_json(&tree), expected);
}

#[test]
fn full_tree_array_objects_are_labelled_nodes_without_badge() {
    let data = object(r#"{"samples":[{"name":"","label":"L","dose":null}]}"#);
    let expected = concat!(
        r#"[{"id":"samples","label":"samples","type":"sample","children":[{"id":"samples.0","label":"L","type":"custom","children":["#,
        r#"{"id":"samples.0.name","label":"name: ","type":"custom","metadata":{"key":"name","value":""}},"#,
        r#"{"id":"samples.0.label","label":"label: L","type":"custom","metadata":{"key":"label","value":"L"}},"#,
        r#"{"id":"samples.0.dose","label":"dose: null","type":"custom","metadata":{"key":"dose","value":null}}]}],"badge":1}]"#,
    );
    assert_eq!(compact_json(&auto_json_to_tree(&data, false)), expected);
}

#[test]
fn compact_tree_never_drops_array_elements_and_prints_values_in_json_spelling() {
    let data = object(r#"{"flags":[null,true,"",[1,"b"],{}]}"#);
    let expected = concat!(
        r#"[{"id":"flags","label":"flags","type":"custom","children":["#,
        r#"{"id":"flags.0","label":"[0]: null","type":"custom"},"#,
        r#"{"id":"flags.1","label":"[1]: true","type":"custom"},"#,
        r#"{"id":"flags.2","label":"[2]: ","type":"custom"},"#,
        r#"{"id":"flags.3","label":"[3]: [1,\"b\"]","type":"custom"},"#,
        r#"{"id":"flags.4","label":"[4]","type":"custom"}],"badge":5}]"#,
    );
    assert_eq!(compact_json(&auto_json_to_tree(&data, true)), expected);
}

#[test]
fn tree_nodes_read_back_from_json_keep_absent_null_and_counted_badges() {
    let tree = auto_json_to_tree(&object(T3_INPUT), true);
    let text = compact_json(&tree);
    let read: Vec<TreeNode> = serde_json::from_str(&text).expect("tree JSON reads back");
    assert_eq!(read, tree);
    let plates = &read[0];
    assert_eq!(plates.badge, Badge::Count(1));
    assert_eq!(plates.node_type, TreeNodeType::Plate);
    let plate = &plates.children.as_ref().expect("plate items")[0];
    assert_eq!(plate.badge, Badge::Null);
    let barcode = &plate.children.as_ref().expect("plate members")[0];
    assert_eq!(barcode.badge, Badge::Absent);
}

// ----- CSV (§5.2) -----------------------------------------------------------------------------

#[test]
fn csv_without_tables_is_key_value_records_with_dotted_keys_and_json_arrays() {
    let data = object(
        r#"{"name":"Run 1","count":3,"none":null,"params":{"k":5,"mode":"fast"},"tags":["a","b"],"f":1.0}"#,
    );
    assert_eq!(
        auto_json_to_csv(&data),
        "key,value\r\nname,Run 1\r\ncount,3\r\nnone,\r\nparams.k,5\r\nparams.mode,fast\r\ntags,\"[\"\"a\"\",\"\"b\"\"]\"\r\nf,1.0\r\n"
    );
}

#[test]
fn csv_with_a_table_writes_only_the_table() {
    assert_eq!(
        auto_json_to_csv(&object(T2_INPUT)),
        "# samples\nid,name,conc,note,extra\r\n1,S1,0.5,,\r\n2,S2,,,x\r\n"
    );
}

#[test]
fn csv_tables_are_separated_by_an_empty_line_and_cells_with_commas_are_quoted() {
    let data = object(
        r#"{"plates":[{"plate_name":"P1","barcode":"B01"},{"barcode":"B02"}],"drugs":[{"name":"X","dose":1},{"name":"Y,Z","dose":2.5}]}"#,
    );
    assert_eq!(
        auto_json_to_csv(&data),
        "# plates\nplate_name,barcode\r\nP1,B01\r\n,B02\r\n\n# drugs\nname,dose\r\nX,1\r\n\"Y,Z\",2.5\r\n"
    );
}

#[test]
fn csv_of_an_empty_object_is_the_bare_header() {
    assert_eq!(auto_json_to_csv(&JsonObject::new()), "key,value\r\n");
}

#[test]
fn csv_record_of_one_empty_cell_is_written_as_two_quotes() {
    let data = object(r#"{"wells":[{"drug":"X"},{"drug":null},7]}"#);
    assert_eq!(
        auto_json_to_csv(&data),
        "# wells\ndrug\r\nX\r\n\"\"\r\n\"\"\r\n"
    );
}

#[test]
fn csv_cells_with_quotes_or_line_breaks_are_quoted_and_empty_objects_give_no_record() {
    let data = object(r#"{"note":"say \"hi\"","lines":"a\nb","cr":"a\rb","meta":{},"x":false}"#);
    assert_eq!(
        auto_json_to_csv(&data),
        "key,value\r\nnote,\"say \"\"hi\"\"\"\r\nlines,\"a\nb\"\r\ncr,\"a\rb\"\r\nx,false\r\n"
    );
}

// ----- summary (§5.3) -------------------------------------------------------------------------

#[test]
fn summary_metadata_has_non_empty_scalars_arrays_and_first_level_object_members() {
    let data = object(
        r#"{"name":"Run 1","count":3,"empty":"","params":{"k":5,"deep":{"x":1},"list":[1]},"tags":["a","b"],"none":null,"no":[]}"#,
    );
    assert_eq!(
        compact_json(&auto_json_to_summary(&data)),
        r#"{"metadata":{"name":"Run 1","count":3,"params.k":5,"tags":["a","b"]},"sections":[]}"#
    );
}

#[test]
fn summary_table_keeps_columns_with_a_non_empty_scalar_in_some_row() {
    assert_eq!(
        compact_json(&auto_json_to_summary(&object(T2_INPUT))),
        concat!(
            r#"{"metadata":{"experiment":"EXP-1"},"sections":[{"key":"samples","label":"Samples","type":"table","columns":["id","name","conc","extra"],"#,
            r#""rows":[{"id":1,"name":"S1","conc":0.5,"extra":null},{"id":2,"name":"S2","conc":null,"extra":"x"}],"row_count":2}]}"#,
        )
    );
}

#[test]
fn summary_group_items_tabulate_the_rows_under_the_first_nested_table_key() {
    let data = object(
        r#"{"title":"Screen","plates":[{"plate_name":"P1","barcode":"B01","samples":[{"well":"A1","drug":"X","meta":{"a":1}},{"well":"A2","drug":null}]},{"barcode":"B02","samples":[]}]}"#,
    );
    let expected = concat!(
        r#"{"metadata":{"title":"Screen"},"sections":[{"key":"plates","label":"Plates","type":"group","items":["#,
        r#"{"label":"P1","metadata":{"plate_name":"P1","barcode":"B01"},"item_count":2,"item_key":"samples","columns":["well","drug"],"rows":[{"well":"A1","drug":"X"},{"well":"A2","drug":null}]},"#,
        r#"{"label":"[1]","metadata":{"barcode":"B02"},"item_count":0,"item_key":"samples","columns":[],"rows":[]}]}]}"#,
    );
    assert_eq!(compact_json(&auto_json_to_summary(&data)), expected);
}

#[test]
fn summary_rows_and_group_elements_that_are_not_objects_count_as_empty() {
    let data =
        object(r#"{"cell_lines":[{"name":"HeLa","passages":[{"n":3}]},5],"wells":[{"a":1},"x"]}"#);
    let expected = concat!(
        r#"{"metadata":{},"sections":["#,
        r#"{"key":"cell_lines","label":"Cell Lines","type":"group","items":["#,
        r#"{"label":"HeLa","metadata":{"name":"HeLa"},"item_count":1,"item_key":"passages","columns":["n"],"rows":[{"n":3}]},"#,
        r#"{"label":"[1]","metadata":{},"item_count":0,"item_key":"passages","columns":[],"rows":[]}]},"#,
        r#"{"key":"wells","label":"Wells","type":"table","columns":["a"],"rows":[{"a":1},{"a":null}],"row_count":2}]}"#,
    );
    assert_eq!(compact_json(&auto_json_to_summary(&data)), expected);
}

// ----- helpers (§5) ---------------------------------------------------------------------------

#[test]
fn humanize_key_replaces_underscores_and_title_cases_each_word() {
    for (key, heading) in [
        ("cell_line", "Cell Line"),
        ("IC50_values", "Ic50 Values"),
        ("a1b", "A1B"),
        ("dose-response", "Dose-Response"),
        ("plates", "Plates"),
        ("", ""),
        ("__x", "  X"),
    ] {
        assert_eq!(humanize_key(key), heading, "humanize_key({key:?})");
    }
}

#[test]
fn infer_type_recognises_singular_and_plural_kind_keys_in_any_case() {
    for (key, kind) in [
        ("plate", TreeNodeType::Plate),
        ("Plates", TreeNodeType::Plate),
        ("samples", TreeNodeType::Sample),
        ("treatment", TreeNodeType::Treatment),
        ("CELL_LINES", TreeNodeType::CellLine),
        ("experiments", TreeNodeType::Experiment),
        ("study", TreeNodeType::Study),
        ("studies", TreeNodeType::Study),
        ("clones", TreeNodeType::Clone),
        ("passage", TreeNodeType::Passage),
        ("plate_name", TreeNodeType::Custom),
        ("tags", TreeNodeType::Custom),
    ] {
        assert_eq!(infer_type(key), kind, "infer_type({key:?})");
    }
}

#[test]
fn find_label_skips_falsy_values_and_falls_back_to_the_next_label_key() {
    for (item, label) in [
        (r#"{"name":"","label":"L"}"#, "L"),
        (r#"{"title":"T","name":null,"id":0}"#, "T"),
        (
            r#"{"name":false,"label":[],"id":{},"title":0.0,"plate_name":"P1"}"#,
            "P1",
        ),
        (r#"{"sample_name":"S9","name":"S1"}"#, "S1"),
        (r#"{"id":42}"#, "42"),
        (r#"{"name":" "}"#, " "),
        (r#"{"name":true}"#, "true"),
        (r#"{"name":"","well":"A1"}"#, "[4]"),
    ] {
        assert_eq!(find_label(&object(item), 4), label, "find_label({item})");
    }
}

#[test]
fn exports_keep_the_input_key_order() {
    let data = object(r#"{"z":1,"a":{"y":2,"b":3},"m":[{"q":1,"c":2}]}"#);
    let ids: Vec<String> = auto_json_to_tree(&data, false)
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, ["z", "a", "m"]);
    let full = compact_json(&auto_json_to_tree(&data, false));
    assert!(full.find("a.y").expect("a.y") < full.find("a.b").expect("a.b"));
    assert_eq!(auto_json_to_csv(&data), "# m\nq,c\r\n1,2\r\n");
    let flat = object(r#"{"z":1,"a":{"y":2,"b":3}}"#);
    assert_eq!(
        auto_json_to_csv(&flat),
        "key,value\r\nz,1\r\na.y,2\r\na.b,3\r\n"
    );
    assert_eq!(
        compact_json(&auto_json_to_summary(&data)),
        r#"{"metadata":{"z":1,"a.y":2,"a.b":3},"sections":[{"key":"m","label":"M","type":"table","columns":["q","c"],"rows":[{"q":1,"c":2}],"row_count":1}]}"#
    );
}

// ----- plugin defaults (plugin.md §6.8) -------------------------------------------------------

struct Plain {
    core: PluginCore,
}

impl AnalysisPlugin for Plain {
    fn core(&self) -> &PluginCore {
        &self.core
    }
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("plain", "0.1.0", "No overrides", "demo", "/plain")
    }
    fn routers(self: Arc<Self>) -> Vec<(Router, String)> {
        Vec::new()
    }
}

#[test]
fn plugin_export_defaults_are_the_compact_tree_the_summary_and_the_csv() {
    let plugin = Plain {
        core: PluginCore::new(),
    };
    let data = object(T1_INPUT);
    assert_eq!(plugin.export_tree(&data), auto_json_to_tree(&data, true));
    assert_eq!(
        compact_json(&plugin.export_summary(&data)),
        compact_json(&auto_json_to_summary(&data))
    );
    assert_eq!(plugin.export_csv(&data), auto_json_to_csv(&data));
}
