//! Microversion negotiation: `X-OpenStack-Ironic-API-Version` or
//! `OpenStack-API-Version: baremetal 1.N` (the latter wins), `latest`, 406 outside the range,
//! and the min/max/current headers on every response (python-ironicclient negotiates from them).

use std::future::{ready, Ready};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::error::ApiError;

pub const MIN_MINOR: u32 = 1;
/// Highest microversion whose features ironbox implements; raised as features land.
/// See README "API coverage" for what each version below this brings and where it stands.
pub const MAX_MINOR: u32 = 115;

/// The negotiated version of one request (major is always 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32);

impl Version {
    pub const MIN: Version = Version(MIN_MINOR);
    pub const MAX: Version = Version(MAX_MINOR);

    /// At least 1.`minor`?
    pub fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }

    pub fn header_value(self) -> String {
        format!("1.{}", self.0)
    }
}

/// Parse the two version headers. Absent → the minimum (old-client behaviour).
pub fn negotiate(legacy: Option<&str>, standard: Option<&str>) -> Result<Version, ApiError> {
    // OpenStack-API-Version may name several services; only "baremetal X" is ours.
    let std_value = standard.and_then(|s| {
        s.split(',').map(str::trim).find_map(|part| {
            let mut it = part.splitn(2, char::is_whitespace);
            (it.next()?.eq_ignore_ascii_case("baremetal"))
                .then(|| it.next().unwrap_or("").trim().to_string())
        })
    });
    let raw = match (std_value, legacy) {
        (Some(v), _) => v,
        (None, Some(v)) => v.trim().to_string(),
        (None, None) => return Ok(Version::MIN),
    };
    if raw.eq_ignore_ascii_case("latest") {
        return Ok(Version::MAX);
    }
    let invalid = || {
        ApiError::framework(
            StatusCode::NOT_ACCEPTABLE,
            "Invalid value for X-OpenStack-Ironic-API-Version header",
        )
    };
    let (major, minor) = raw.split_once('.').ok_or_else(invalid)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return Err(invalid());
    }
    let (major, minor): (u32, u32) = (
        major.parse().map_err(|_| invalid())?,
        minor.parse().map_err(|_| invalid())?,
    );
    let range = format!("[1.{MIN_MINOR}, 1.{MAX_MINOR}]");
    if major != 1 {
        return Err(ApiError::framework(StatusCode::NOT_ACCEPTABLE, format!(
            "Mutually exclusive versions requested. Version {raw} requested but not supported by this service. The supported version range is: {range}."
        )));
    }
    if !(MIN_MINOR..=MAX_MINOR).contains(&minor) {
        return Err(ApiError::framework(StatusCode::NOT_ACCEPTABLE, format!(
            "Version {raw} was requested but the minor version is not supported by this service. The supported version range is: {range}."
        )));
    }
    Ok(Version(minor))
}

fn header<'a>(req: &'a ServiceRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn stamp(headers: &mut actix_web::http::header::HeaderMap, used: Version, request_id: &str) {
    let set = |h: &mut actix_web::http::header::HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(HeaderName::from_static(k), v);
        }
    };
    set(
        headers,
        "x-openstack-ironic-api-minimum-version",
        format!("1.{MIN_MINOR}"),
    );
    set(
        headers,
        "x-openstack-ironic-api-maximum-version",
        format!("1.{MAX_MINOR}"),
    );
    set(
        headers,
        "x-openstack-ironic-api-version",
        used.header_value(),
    );
    set(
        headers,
        "openstack-api-version",
        format!("baremetal {}", used.header_value()),
    );
    set(headers, "x-openstack-request-id", request_id.to_string());
    set(headers, "openstack-request-id", request_id.to_string());
}

/// Middleware body (used with `wrap_fn`): negotiate, stash the Version, stamp the headers.
pub fn middleware<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<
    Output = Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error>,
>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody + 'static,
{
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let negotiated = negotiate(
        header(&req, "x-openstack-ironic-api-version"),
        header(&req, "openstack-api-version"),
    );
    let fut = match negotiated {
        Ok(v) => {
            req.extensions_mut().insert(v);
            Ok(srv.call(req))
        }
        Err(e) => Err((req, e)),
    };
    async move {
        match fut {
            Ok(call) => {
                let mut res = call.await?;
                let used = res
                    .request()
                    .extensions()
                    .get::<Version>()
                    .copied()
                    .unwrap_or(Version::MIN);
                stamp(res.headers_mut(), used, &request_id);
                Ok(res.map_into_left_body())
            }
            Err((req, e)) => {
                let mut resp = actix_web::ResponseError::error_response(&e);
                stamp(resp.headers_mut(), Version::MIN, &request_id);
                Ok(req.into_response(resp).map_into_right_body())
            }
        }
    }
}

impl FromRequest for Version {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Version>()
            .copied()
            .unwrap_or(Version::MIN)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, None).unwrap(), Version(1));
        assert_eq!(negotiate(Some("1.20"), None).unwrap(), Version(20));
        assert_eq!(negotiate(Some("latest"), None).unwrap(), Version::MAX);
        assert_eq!(
            negotiate(Some("1.20"), Some("baremetal 1.50")).unwrap(),
            Version(50),
            "standard header wins"
        );
        assert_eq!(
            negotiate(None, Some("compute 2.1, baremetal 1.31")).unwrap(),
            Version(31)
        );
        assert_eq!(
            negotiate(None, Some("compute 2.1")).unwrap(),
            Version(1),
            "no baremetal entry"
        );
        for bad in [
            "abc",
            "1.",
            ".1",
            "1.0",
            "1.999",
            "2.1",
            "1.1.1",
            "1.-1",
            "",
            "1.99999999999",
        ] {
            let e = negotiate(Some(bad), None).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_ACCEPTABLE, "{bad}");
        }
        assert!(negotiate(Some("2.1"), None)
            .unwrap_err()
            .message
            .starts_with("Mutually exclusive"));
        assert!(negotiate(Some("1.0"), None)
            .unwrap_err()
            .message
            .contains("[1.1, 1."));
    }
}
