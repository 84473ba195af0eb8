//! `$exception_list`: the error itself, then one chained entry per source, at most 10 in all.

use serde_json::{Value, json};

use super::generic::{generic_passes, limited};
use super::truncate::truncate;
use crate::event::ErrorInfo;

/// Entries per `$exception_list`.
pub(crate) const MAX_ENTRIES: usize = 10;
/// Cap of each entry's `value` (and so of `$mcp_error_message`).
pub(crate) const VALUE_CAP: usize = 2_048;
/// Cap of `$mcp_error_type`.
pub(crate) const TYPE_CAP: usize = 256;

/// An exception value: the generic pass under the 2,048 limit, in the margin order of [`limited`].
pub(crate) fn exception_value(message: &str) -> String {
    limited(message, VALUE_CAP, generic_passes).into_owned()
}

pub(crate) fn exception_list(error: &ErrorInfo) -> Value {
    let mut entries = Vec::with_capacity((error.chain.len() + 1).min(MAX_ENTRIES));
    entries.push(json!({
        "type": truncate(&error.type_name, TYPE_CAP),
        "value": exception_value(&error.message),
        "mechanism": {"type": "generic", "handled": true, "synthetic": error.synthetic, "exception_id": 0},
    }));
    for (index, source) in error.chain.iter().take(MAX_ENTRIES - 1).enumerate() {
        let id = index + 1;
        entries.push(json!({
            "type": "Error",
            "value": exception_value(source),
            "mechanism": {
                "type": "chained",
                "source": "cause",
                "handled": true,
                "synthetic": false,
                "exception_id": id,
                "parent_id": id - 1,
            },
        }));
    }
    Value::Array(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(chain: usize) -> ErrorInfo {
        ErrorInfo {
            type_name: "orders_mcp::OrderError".into(),
            label: None,
            message: "lookup failed: https://u:p@db.test/?token=abc".into(),
            synthetic: false,
            chain: (0..chain)
                .map(|i| format!("cause {i} phc_abcdefghijklmnopqrstuvwxyz123"))
                .collect(),
            status: None,
        }
    }

    #[test]
    fn the_error_comes_first_then_its_chain_linked_by_parent_ids() {
        let list = exception_list(&error(2));
        let entries = list.as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0]["type"], "orders_mcp::OrderError");
        assert_eq!(
            entries[0]["mechanism"],
            json!({"type": "generic", "handled": true, "synthetic": false, "exception_id": 0})
        );
        assert_eq!(entries[2]["type"], "Error");
        assert_eq!(
            entries[2]["mechanism"],
            json!({"type": "chained", "source": "cause", "handled": true, "synthetic": false,
                "exception_id": 2, "parent_id": 1})
        );
    }

    #[test]
    fn values_get_the_generic_pass() {
        let list = exception_list(&error(1));
        assert_eq!(
            list[0]["value"],
            "lookup failed: https://[redacted]@db.test/?token=[redacted]"
        );
        assert_eq!(list[1]["value"], "cause 0 [redacted]");
    }

    #[test]
    fn a_long_chain_is_cut_to_ten_entries() {
        let list = exception_list(&error(25));
        assert_eq!(list.as_array().unwrap().len(), MAX_ENTRIES);
        assert_eq!(list[9]["mechanism"]["exception_id"], 9);
    }

    #[test]
    fn values_and_type_are_capped() {
        let info = ErrorInfo {
            type_name: "T".repeat(300),
            label: None,
            message: "é".repeat(3_000),
            synthetic: true,
            chain: vec![],
            status: None,
        };
        let list = exception_list(&info);
        assert_eq!(
            list[0]["type"].as_str().unwrap().chars().count(),
            TYPE_CAP
        );
        assert_eq!(
            list[0]["value"].as_str().unwrap().chars().count(),
            VALUE_CAP
        );
        assert_eq!(list[0]["mechanism"]["synthetic"], true);
    }
}
