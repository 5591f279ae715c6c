//! gRPC's side of errors and deadlines: a REST error's status becomes the gRPC code that
//! means the same thing (the message is kept word for word), and a client's `grpc-timeout`
//! becomes the request's time budget.

use std::time::Duration;

use axum::http::StatusCode;
use tonic::{Code, Status};

use crate::error::ApiError;

/// The gRPC code for what an HTTP status says.
pub fn code_for(status: StatusCode) -> Code {
    match status {
        StatusCode::BAD_REQUEST
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY => Code::InvalidArgument,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        StatusCode::GATEWAY_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::INTERNAL_SERVER_ERROR => Code::Internal,
        _ => Code::Unknown,
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        Status::new(code_for(e.status), e.message)
    }
}

/// A code's name as gRPC's other implementations and Prometheus exporters spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The `grpc-timeout` header: up to 8 digits and a unit (H, M, S, m, u, n). `None` when it is
/// absent or malformed (a malformed one is ignored, as the server's own timeout still holds).
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_by_unit_and_refuse_the_malformed() {
        let ms = Duration::from_millis;
        for (text, want) in [
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("30S", Some(Duration::from_secs(30))),
            ("250m", Some(ms(250))),
            ("1500u", Some(Duration::from_micros(1500))),
            ("99999999n", Some(Duration::from_nanos(99_999_999))),
            ("123456789m", None), // nine digits
            ("m", None),
            ("10", None),
            ("10x", None),
            ("-1S", None),
            ("", None),
            ("1é", None),
        ] {
            assert_eq!(parse_timeout(text), want, "{text:?}");
        }
    }

    #[test]
    fn errors_keep_their_message_and_map_by_meaning() {
        let s = Status::from(ApiError::bad_request("input \"a\": bad"));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "input \"a\": bad");
        for (http, grpc) in [
            (StatusCode::NOT_FOUND, Code::NotFound),
            (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable),
            (StatusCode::GATEWAY_TIMEOUT, Code::DeadlineExceeded),
            (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal),
            (StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted),
            (StatusCode::IM_A_TEAPOT, Code::Unknown),
        ] {
            assert_eq!(code_for(http), grpc, "{http}");
        }
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Cancelled), "Canceled");
    }
}
