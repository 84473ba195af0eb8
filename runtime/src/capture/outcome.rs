//! How a tool call's handler ended, as the record keeps it: the outcome, an error result's error, a round that
//! asks for more input, a task handle, and an answer that says the tool does not exist.

use rmcp::ErrorData;
use rmcp::model::CallToolResponse;

use super::errors;
use crate::event::names;
use crate::pipeline::Encoded;

/// How the handler of a prepared call ended.
pub(crate) enum CallOutcome<'a> {
    Response(&'a mut CallToolResponse),
    Error(&'a ErrorData),
    Panic(&'a (dyn std::any::Any + Send)),
}

/// The response as the record keeps it; returns the task to wait for when the call was answered with one.
pub(super) fn record_response(
    record: &mut crate::pipeline::RequestRecord,
    response: &CallToolResponse,
) -> Option<String> {
    if let CallToolResponse::InputRequired(round) = response {
        input_round(record, round);
    }
    record.response = match response {
        CallToolResponse::Complete(result) => Some(Encoded::of(result)),
        CallToolResponse::Task(task) => Some(Encoded::of(task)),
        _ => None,
    };
    match response {
        CallToolResponse::Task(task) => Some(task.task.task_id.clone()),
        _ => None,
    }
}

/// A result that asks the client for more input is not the call's outcome. On a protocol that lets the client
/// answer, the round is recorded as `$mcp_input_required` (which methods it asked for, never their content) and
/// the retry that completes the call is the `$mcp_tool_call`. An older client cannot answer, so there the call
/// ends here, as a failure labelled `input_required`.
fn input_round(
    record: &mut crate::pipeline::RequestRecord,
    round: &rmcp::model::InputRequiredResult,
) {
    if crate::pipeline::is_modern_protocol(record.attribution.protocol_version.as_deref()) {
        let methods = round
            .input_requests
            .iter()
            .flatten()
            .map(|(_, request)| input_method(request))
            .take(100)
            .collect();
        record.event = names::INPUT_REQUIRED;
        record.input_request_methods = Some(methods);
        record.capture_parameters = false;
        record.is_error = None;
        record.error = None;
    } else {
        record.is_error = Some(true);
        record.error = Some(Box::new(crate::event::ErrorInfo {
            type_name: "Error".into(),
            label: Some("input_required".into()),
            message: "the tool asked for more input, which a client on this protocol revision cannot give"
                .into(),
            synthetic: true,
            chain: Vec::new(),
            status: None,
        }));
    }
}

/// The JSON-RPC method of one request a round asks the client to answer.
fn input_method(request: &rmcp::model::InputRequest) -> String {
    match request {
        rmcp::model::InputRequest::CreateMessage(_) => "sampling/createMessage".to_owned(),
        rmcp::model::InputRequest::Elicitation(_) => "elicitation/create".to_owned(),
        rmcp::model::InputRequest::ListRoots(_) => "roots/list".to_owned(),
        // A kind added after rmcp 3.11: its own envelope names it.
        other => serde_json::to_value(other)
            .ok()
            .and_then(|value| value.get("method")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// The error of an `is_error` result that carried no typed error: arguments rmcp rejected, or the tool's own.
pub(super) fn result_error(
    response: &CallToolResponse,
    rejected_arguments: bool,
) -> Option<crate::event::ErrorInfo> {
    match response {
        CallToolResponse::Complete(result) if rejected_arguments => {
            Some(errors::invalid_arguments(result))
        }
        CallToolResponse::Complete(result) => Some(errors::result_error(result)),
        _ => None,
    }
}

/// Whether the host's answer says that the call named a tool it does not have: rmcp's router answers a name it
/// has no route for with invalid params "tool not found"; a hand-written dispatcher may say method not found.
pub(super) fn names_no_tool(outcome: &CallOutcome<'_>) -> bool {
    match outcome {
        CallOutcome::Error(error) => {
            error.code == rmcp::model::ErrorCode::METHOD_NOT_FOUND
                || (error.code == rmcp::model::ErrorCode::INVALID_PARAMS
                    && error.message.to_ascii_lowercase().contains("not found"))
        }
        _ => false,
    }
}
