//! Every key path of a JSON document, for tests that check output keys against a field
//! registry (a key outside the registry fails them).

use std::collections::BTreeSet;

use serde_json::Value;

/// The key paths of `doc`: the keys of objects joined with `.`, the items of an array under
/// `[]` after the array's path, so `{"a":[{"b":1},{"c":{"d":2}}]}` gives `a`, `a[].b`,
/// `a[].c` and `a[].c.d`. Every item of every array is walked, so a key that only one item
/// has is found. Arrays nested in arrays add `[]` once per level; scalars add nothing.
pub fn json_key_paths(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(doc, "", &mut out);
    out
}

fn walk(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(child, &p, out);
                out.insert(p);
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for item in items {
                walk(item, &p, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::json_key_paths;

    #[test]
    fn objects_nest_with_dots_and_every_array_item_is_walked() {
        let doc = serde_json::json!({
            "a": [{"b": 1}, {"c": {"d": 2}}],
            "e": [[{"f": null}]],
            "g": "x"
        });
        let got: Vec<String> = json_key_paths(&doc).into_iter().collect();
        assert_eq!(got, ["a", "a[].b", "a[].c", "a[].c.d", "e", "e[][].f", "g"]);
    }
}
