//! `GET /metrics`: the Prometheus exposition of `crate::metrics`, with the node counts by
//! provision and power state read from the database at scrape time (one grouped query),
//! and the middleware that counts every API request by route pattern, method and status.

use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::State;

/// Whether the scraper asked for OpenMetrics (Prometheus does, and takes either).
fn wants_openmetrics(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(actix_web::http::header::ACCEPT)
        .filter_map(|h| h.to_str().ok())
        .any(|h| h.contains("application/openmetrics-text"))
}

pub async fn scrape(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let counts = state.store.node_state_counts().await?;
    let openmetrics = wants_openmetrics(&req);
    let body = crate::metrics::encode(&counts, openmetrics)
        .map_err(|e| ApiError::internal(format!("encoding metrics: {e}")))?;
    let content_type = if openmetrics {
        crate::metrics::OPENMETRICS
    } else {
        crate::metrics::PROMETHEUS_TEXT
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

/// Counts and times each request under its route pattern (`/v1/nodes/{node}`, never the
/// raw path; `unmatched` when no route matched), whatever answered it: a handler, the auth
/// check or version negotiation. With `[metrics] enabled = false` (`record`) it only
/// passes requests on.
pub fn middleware<S, B>(
    req: ServiceRequest,
    srv: &S,
    record: bool,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let started = Instant::now();
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        if !record {
            return Ok(res);
        }
        let route = res.request().match_pattern();
        crate::metrics::api_request(
            route.as_deref().unwrap_or("unmatched"),
            res.request().method().as_str(),
            res.status().as_u16(),
            started.elapsed(),
        );
        Ok(res)
    }
}
