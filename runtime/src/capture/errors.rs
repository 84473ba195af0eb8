//! The one error classifier: what `$mcp_error_type` and `$mcp_error_message` say for a JSON-RPC
//! error, an `is_error` result, arguments that did not fit the tool, a panic, or a typed error the attribute saw.
//! The wrapper and the attribute both describe errors through these functions only.

use std::any::Any;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ErrorCode};

use crate::event::ErrorInfo;
#[cfg(test)]
use crate::event::own_type_name;

/// The fixed `$mcp_error_message` of a panic whose payload is not a string.
pub(crate) const NON_STRING_PANIC_MESSAGE: &str =
    "the handler panicked with a payload that is not a string";

/// The label of a failure the framework reports because the arguments did not fit the tool.
pub(crate) const VALIDATION: &str = "validation";

/// A JSON-RPC error, by its category (`InvalidParams`, `JsonRpcError(-32042)`, …); invalid params are labelled
/// as a validation failure.
pub(crate) fn protocol_error(error: &ErrorData) -> ErrorInfo {
    let type_name = match error.code {
        ErrorCode::PARSE_ERROR => "ParseError".to_owned(),
        ErrorCode::INVALID_REQUEST => "InvalidRequest".to_owned(),
        ErrorCode::METHOD_NOT_FOUND => "MethodNotFound".to_owned(),
        ErrorCode::INVALID_PARAMS => "InvalidParams".to_owned(),
        ErrorCode::INTERNAL_ERROR => "InternalError".to_owned(),
        ErrorCode::RESOURCE_NOT_FOUND => "ResourceNotFound".to_owned(),
        ErrorCode(code) => format!("JsonRpcError({code})"),
    };
    ErrorInfo {
        label: (error.code == ErrorCode::INVALID_PARAMS).then(|| VALIDATION.to_owned()),
        type_name,
        message: error.message.to_string(),
        synthetic: false,
        chain: Vec::new(),
        status: None,
    }
}

/// How rmcp's argument extractor begins the error result it answers with when the arguments do not fit the tool.
const RMCP_REJECTED_ARGUMENTS: &str = "failed to deserialize parameters";

/// An `is_error` result: its text parts joined with single spaces, trimmed, else `Unknown error`. rmcp's own
/// answer to arguments that do not fit the tool is labelled as a validation failure.
pub(crate) fn result_error(result: &CallToolResult) -> ErrorInfo {
    let joined = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    let message = joined.trim();
    ErrorInfo {
        type_name: "Error".into(),
        label: message
            .starts_with(RMCP_REJECTED_ARGUMENTS)
            .then(|| VALIDATION.to_owned()),
        message: if message.is_empty() {
            "Unknown error".into()
        } else {
            message.to_owned()
        },
        synthetic: true,
        chain: Vec::new(),
        status: None,
    }
}

/// Arguments that did not fit the tool's parameters, which rmcp answers with an error result: labelled as a
/// validation failure; nothing was thrown, so the exception is the result's.
pub(crate) fn invalid_arguments(result: &CallToolResult) -> ErrorInfo {
    ErrorInfo {
        label: Some(VALIDATION.to_owned()),
        ..result_error(result)
    }
}

/// A panic payload: type `Panic`, its text when it is a string.
pub(crate) fn panic_error(payload: &(dyn Any + Send)) -> ErrorInfo {
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| NON_STRING_PANIC_MESSAGE.to_owned());
    ErrorInfo {
        type_name: "Panic".into(),
        label: None,
        message,
        synthetic: false,
        chain: Vec::new(),
        status: None,
    }
}

/// A typed error `E` the attribute saw: its own type name, `message`, its source chain.
pub(crate) fn typed_error<E: ?Sized>(message: String, chain: Vec<String>) -> ErrorInfo {
    crate::event::typed_error_info::<E>(message, chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    #[test]
    fn json_rpc_errors_are_named_by_their_category() {
        let cases = [
            (ErrorData::invalid_params("x", None), "InvalidParams"),
            (ErrorData::internal_error("x", None), "InternalError"),
            (ErrorData::resource_not_found("x", None), "ResourceNotFound"),
            (
                ErrorData::method_not_found::<rmcp::model::PingRequestMethod>(),
                "MethodNotFound",
            ),
            (
                ErrorData::new(ErrorCode(-32042), "custom", None),
                "JsonRpcError(-32042)",
            ),
        ];
        for (error, expected) in cases {
            let info = protocol_error(&error);
            assert_eq!(info.type_name, expected);
            assert!(!info.synthetic);
            let validation = (expected == "InvalidParams").then_some("validation");
            assert_eq!(info.label.as_deref(), validation);
        }
    }

    #[test]
    fn an_error_result_joins_its_texts_and_is_synthetic() {
        let result = CallToolResult::error(vec![
            ContentBlock::text(" the thing failed"),
            ContentBlock::text("badly "),
        ]);
        let info = result_error(&result);
        assert_eq!(info.type_name, "Error");
        assert_eq!(info.message, "the thing failed badly");
        assert!(info.synthetic);
        assert_eq!(
            result_error(&CallToolResult::error(vec![])).message,
            "Unknown error"
        );
    }

    #[test]
    fn rejected_arguments_are_a_validation_failure_with_rmcp_s_message() {
        let result = CallToolResult::error(vec![ContentBlock::text(
            "failed to deserialize parameters: invalid type",
        )]);
        let info = invalid_arguments(&result);
        assert_eq!(info.label.as_deref(), Some("validation"));
        assert_eq!(info.type_name, "Error");
        assert!(info.message.starts_with("failed to deserialize"));
        assert!(info.synthetic);
    }

    #[test]
    fn panics_keep_a_string_payload_and_name_any_other() {
        assert_eq!(panic_error(&"kaboom").message, "kaboom");
        assert_eq!(panic_error(&String::from("owned")).message, "owned");
        assert_eq!(panic_error(&42_u8).message, NON_STRING_PANIC_MESSAGE);
        assert_eq!(panic_error(&"x").type_name, "Panic");
    }

    #[test]
    fn a_typed_error_is_named_by_its_own_name_without_path_or_generic_arguments() {
        struct Failure<T>(T);
        let info = typed_error::<Failure<u8>>("m".into(), vec![]);
        assert_eq!(info.type_name, "Failure");
        assert_eq!(info.label, None);
        let _ = Failure(0_u8).0;
        assert_eq!(
            own_type_name("app::errors::UpstreamTimeout"),
            "UpstreamTimeout"
        );
        assert_eq!(
            own_type_name("alloc::boxed::Box<dyn core::error::Error>"),
            "Error"
        );
        assert_eq!(own_type_name("alloc::sync::Arc<my::E>"), "Error");
        assert_eq!(own_type_name("anyhow::Error"), "Error");
        assert_eq!(own_type_name("String"), "String");
    }
}
