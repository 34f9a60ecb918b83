//! The agent's REST API (IPA's, port 9999): `GET /`, `/v1/`, `/v1/status`, and
//! `/v1/commands/` (list, run, get one, `wait=true`), each also without the `/v1` prefix.
//! Command routes need `?agent_token=`.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use super::commands::{Commands, RequestError};

const MEDIA_TYPE: &str = "application/vnd.openstack.ironic-python-agent.v1+json";
/// Config drives travel inside the JSON body (up to 64 MiB, base64'd).
const BODY_LIMIT: usize = 128 << 20;

pub struct Server {
    pub commands: Arc<Commands>,
    pub token: String,
    pub version: String,
    pub started_at: f64,
}

fn reply(status: u16, body: &Value) -> HttpResponse {
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code)
        .content_type("application/json")
        .body(body.to_string())
}

fn fault(status: u16, text: &str) -> HttpResponse {
    let code = if status >= 500 { "Server" } else { "Client" };
    reply(status, &json!({"faultcode": code, "faultstring": text}))
}

fn err(e: RequestError) -> HttpResponse {
    reply(e.status(), &e.body())
}

fn link(root: &str, rel: &str, resource: &str, bookmark: bool) -> Value {
    let href = if bookmark {
        format!("{root}/{resource}")
    } else {
        format!("{root}/v1/{resource}")
    };
    json!({"href": href, "rel": rel})
}

fn version(root: &str) -> Value {
    json!({"id": "v1", "links": [
        link(root, "self", "v1", true),
        {"href": "https://docs.openstack.org/ironic-python-agent", "rel": "describedby",
         "type": "text/html"},
    ]})
}

/// A `POST /v1/commands` body: the command's name and its params.
pub fn command_body(body: &[u8]) -> Result<(String, Map<String, Value>), RequestError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(mut o)) => match (o.remove("name"), o.remove("params")) {
            (Some(Value::String(n)), Some(Value::Object(p))) => Ok((n, p)),
            _ => Err(RequestError::BadBody(
                "Missing or invalid name or params".into(),
            )),
        },
        _ => Err(RequestError::BadBody(
            "the body is not a JSON object".into(),
        )),
    }
}

impl Server {
    fn token_ok(&self, q: &HashMap<String, String>) -> bool {
        q.get("agent_token")
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.token.as_bytes())))
    }

    async fn handle(self: Arc<Self>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
        let q: HashMap<String, String> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        let wait = q
            .get("wait")
            .is_some_and(|w| w.eq_ignore_ascii_case("true"));
        let info = req.connection_info().clone();
        let root = format!("{}://{}", info.scheme(), info.host());
        let path = req.path();
        let rest = path.strip_prefix("/v1").unwrap_or(path);
        let get = req.method() == actix_web::http::Method::GET;
        let post = req.method() == actix_web::http::Method::POST;
        match (path, rest) {
            ("/", _) if get => reply(
                200,
                &json!({
                    "name": "OpenStack Ironic Python Agent API",
                    "description": "Ironic Python Agent is a provisioning agent for OpenStack \
                                    Ironic (ironbox built-in agent)",
                    "versions": [version(&root)],
                    "default_version": version(&root),
                }),
            ),
            ("/v1" | "/v1/", _) if get => {
                let mut v = json!({
                    "commands": [link(&root, "self", "commands", false),
                                 link(&root, "bookmark", "commands", true)],
                    "status": [link(&root, "self", "status", false),
                               link(&root, "bookmark", "status", true)],
                    "media_types": [{"base": "application/json", "type": MEDIA_TYPE}],
                });
                if let (Some(o), Value::Object(ver)) = (v.as_object_mut(), version(&root)) {
                    o.extend(ver);
                }
                reply(200, &v)
            }
            (_, "/status") if get => reply(
                200,
                &json!({"started_at": self.started_at, "version": self.version}),
            ),
            (_, "/commands" | "/commands/") if get || post => {
                if !self.token_ok(&q) {
                    return err(RequestError::Unauthorized);
                }
                if get {
                    return reply(200, &self.commands.list());
                }
                let (name, params) = match command_body(&body) {
                    Ok(c) => c,
                    Err(e) => return err(e),
                };
                let cmds = Arc::clone(&self.commands);
                // Sync commands may touch disks: keep them off the async workers.
                let started =
                    web::block(move || cmds.execute(&name, params as Map<String, Value>)).await;
                let result = match started {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => return err(e),
                    Err(e) => return fault(500, &e.to_string()),
                };
                if wait {
                    self.wait(result).await
                } else {
                    reply(200, &result)
                }
            }
            (_, r) if get && r.starts_with("/commands/") => {
                if !self.token_ok(&q) {
                    return err(RequestError::Unauthorized);
                }
                let id = r.trim_start_matches("/commands/").trim_end_matches('/');
                match self.commands.get(id) {
                    Ok(r) if wait => self.wait(r).await,
                    Ok(r) => reply(200, &r),
                    Err(e) => err(e),
                }
            }
            (_, "/" | "/status" | "/commands" | "/commands/") => {
                fault(405, "The method is not allowed for the requested URL.")
            }
            _ => fault(404, "Not found: The requested URL was not found."),
        }
    }

    async fn wait(&self, result: Value) -> HttpResponse {
        if result.get("command_status").and_then(Value::as_str) != Some("RUNNING") {
            return reply(200, &result);
        }
        let id = result
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let cmds = Arc::clone(&self.commands);
        match web::block(move || cmds.wait(&id)).await {
            Ok(Ok(r)) => reply(200, &r),
            Ok(Err(e)) => err(e),
            Err(e) => fault(500, &e.to_string()),
        }
    }
}

/// Serve on `listener` from a thread of its own; returns the handle to stop it.
pub fn spawn(
    server: Server,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let server = Arc::new(server);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("agent-api".into())
        .spawn(move || {
            let sys = actix_web::rt::System::new();
            let run = sys.block_on(async move {
                let s = HttpServer::new(move || {
                    let st = Arc::clone(&server);
                    App::new()
                        .app_data(web::PayloadConfig::new(BODY_LIMIT))
                        .default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                            Arc::clone(&st).handle(req, body)
                        }))
                })
                .workers(2)
                .disable_signals()
                .listen(listener)?
                .run();
                Ok::<_, std::io::Error>(s)
            });
            match run {
                Ok(s) => {
                    let _ = tx.send(Ok(s.handle()));
                    if let Err(e) = sys.block_on(s) {
                        tracing::error!(error = %e, "agent API stopped");
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the API thread died while starting"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::commands::tests::commands;

    fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status: u16 = out[9..12].parse().unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
        // actix may use chunked encoding: take the JSON object in the body.
        let json = body
            .find('{')
            .and_then(|a| body.rfind('}').map(|b| &body[a..=b]))
            .unwrap_or("null");
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }

    #[test]
    fn rest_api() {
        let (c, _rx) = commands(vec![]);
        let c2 = Arc::clone(&c);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let token = "t".repeat(43);
        let h = spawn(
            Server {
                commands: c,
                token: token.clone(),
                version: "v".into(),
                started_at: 1.5,
            },
            l,
        )
        .unwrap();
        let (s, v) = http(&addr, "GET", "/", "");
        assert_eq!(s, 200);
        assert_eq!(v["default_version"]["id"], "v1");
        let (s, v) = http(&addr, "GET", "/v1/", "");
        assert_eq!(s, 200);
        assert_eq!(v["media_types"][0]["type"], MEDIA_TYPE);
        let (s, v) = http(&addr, "GET", "/v1/status", "");
        assert_eq!((s, v["started_at"].as_f64()), (200, Some(1.5)));
        let (s, v) = http(&addr, "GET", "/v1/commands/", "");
        assert_eq!(s, 401);
        assert_eq!(v["faultstring"], "Token invalid.");
        let (s, _) = http(&addr, "GET", "/v1/commands/?agent_token=wrong", "");
        assert_eq!(s, 401);
        let q = format!("agent_token={token}");
        let steps = r#"{"name": "deploy.get_deploy_steps", "params": {"node": {}, "ports": []}}"#;
        let (s, v) = http(
            &addr,
            "POST",
            &format!("/v1/commands/?{q}&wait=true"),
            steps,
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["command_status"], "SUCCEEDED");
        let id = v["id"].as_str().unwrap().to_string();
        // Without the /v1 prefix, too.
        let (s, v) = http(&addr, "GET", &format!("/commands/{id}?{q}&wait=true"), "");
        assert_eq!((s, v["id"].as_str()), (200, Some(id.as_str())));
        let (s, v) = http(&addr, "GET", &format!("/commands/?{q}"), "");
        assert_eq!((s, v["commands"].as_array().map(Vec::len)), (200, Some(1)));
        let (s, _) = http(&addr, "GET", &format!("/v1/commands/nope?{q}"), "");
        assert_eq!(s, 404);
        let (s, v) = http(
            &addr,
            "POST",
            &format!("/v1/commands?{q}"),
            r#"{"name": "x.y", "params": {}}"#,
        );
        assert_eq!(s, 404);
        assert_eq!(v["faultcode"], "Client");
        let (s, _) = http(
            &addr,
            "POST",
            &format!("/v1/commands/?{q}"),
            r#"{"name": "deploy.get_deploy_steps"}"#,
        );
        assert_eq!(s, 400);
        let (s, _) = http(&addr, "POST", &format!("/v1/commands/?{q}"), "not json");
        assert_eq!(s, 400);
        let (s, _) = http(
            &addr,
            "POST",
            &format!("/v1/commands/?{q}"),
            r#"{"name": "deploy.get_deploy_steps", "params": {"bogus": 1, "node": {}, "ports": []}}"#,
        );
        assert_eq!(s, 400);
        let (s, _) = http(&addr, "GET", "/v2/nothing", "");
        assert_eq!(s, 404);
        // One command at a time: 409 while one runs.
        c2.push_running("execute_deploy_step");
        let (s, v) = http(&addr, "POST", &format!("/v1/commands/?{q}"), steps);
        assert_eq!(s, 409, "{v}");
        assert_eq!(
            v["faultstring"],
            "Agent is busy: executing command execute_deploy_step"
        );
        drop(h.stop(false));
    }
}
