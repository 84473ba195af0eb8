//! The names of a call's arguments, for `$mcp_input_keys` and `$mcp_input_aliases_used`: which names the agent
//! sent (the tool's declared ones, and others only when the server asks for them), and which arguments it sent
//! only under another name the server accepts. Names only, never values; the work is per argument name, on the
//! request thread, before the arguments go to the handler.

use serde_json::{Map, Value};

use crate::config::{InputAliases, InputKeys};
use crate::intent;
use crate::pipeline::InputKeyNames;

/// The most entries either list holds.
const MAX_ENTRIES: usize = 20;
/// The longest argument name recorded.
const MAX_NAME_CHARS: usize = 64;
/// What stands for the names not recorded.
const NOT_RECORDED: &str = "[redacted]";

/// The argument names of one call: `arguments` as the handler receives them (the crate's own arguments already
/// taken out where it owns them), `schema` the tool's input schema when known, `aliases` the other names the
/// server accepts for this tool's arguments. `None` when the option is off.
pub(super) fn input_key_names(
    mode: InputKeys,
    arguments: Option<&Map<String, Value>>,
    schema: Option<&Map<String, Value>>,
    aliases: Option<&InputAliases>,
) -> Option<Box<InputKeyNames>> {
    if mode == InputKeys::Off {
        return None;
    }
    let empty = Map::new();
    let arguments = arguments.unwrap_or(&empty);
    let declared = schema
        .and_then(|schema| schema.get("properties"))
        .and_then(Value::as_object);
    let accepted = |name: &str| {
        declared.is_some_and(|declared| declared.contains_key(name))
            || aliases.is_some_and(|aliases| aliases.names(name))
    };
    let mut known = Vec::new();
    let mut others = Vec::new();
    let mut unrecorded = false;
    for name in arguments.keys() {
        let is_accepted = accepted(name);
        if !is_accepted && intent::is_injected_name(name) {
            // An argument the crate advertises, left in only because it could not own it here.
            continue;
        }
        if name.chars().count() > MAX_NAME_CHARS {
            unrecorded = true;
        } else if is_accepted {
            known.push(name.clone());
        } else if mode == InputKeys::All {
            others.push(name.clone());
        } else {
            unrecorded = true;
        }
    }
    known.sort_unstable();
    others.sort_unstable();
    let mut keys = known;
    keys.append(&mut others);
    keys.truncate(MAX_ENTRIES);
    if unrecorded && keys.len() < MAX_ENTRIES {
        keys.push(NOT_RECORDED.to_owned());
    }
    let aliases_used = aliases.map_or_else(Vec::new, |aliases| aliases.used(arguments));
    Some(Box::new(InputKeyNames { keys, aliases_used }))
}

impl InputAliases {
    /// Whether `name` is an argument of the tool or one of its aliases, as the server declared them.
    fn names(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(canonical, others)| &**canonical == name || others.iter().any(|a| &**a == name))
    }

    /// `"<alias>:<canonical>"` for each argument sent only under an alias (the first present, in the server's
    /// order), sorted, at most 20.
    fn used(&self, arguments: &Map<String, Value>) -> Vec<String> {
        let mut used: Vec<String> = self
            .0
            .iter()
            .filter(|(canonical, _)| !arguments.contains_key(&**canonical))
            .filter_map(|(canonical, others)| {
                let alias = others.iter().find(|a| arguments.contains_key(&***a))?;
                Some(format!("{alias}:{canonical}"))
            })
            .collect();
        used.sort_unstable();
        used.truncate(MAX_ENTRIES);
        used
    }
}

#[cfg(test)]
#[path = "input_keys_tests.rs"]
mod tests;
