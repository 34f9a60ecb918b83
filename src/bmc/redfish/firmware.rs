//! The Redfish resources behind BIOS settings and firmware: the system's Bios resource and
//! its pending Settings, attribute registries, the Manager's firmware version, network
//! adapters, UpdateService.SimpleUpdate and the task monitor it answers with.

use reqwest::Method;
use serde_json::{json, Value};

use super::resources::action_target;
use super::*;

/// Where a running task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPoll {
    /// Still running (a task monitor answering 202, or a Task not yet finished).
    Running,
    /// Finished: its TaskState, TaskStatus (health) and messages.
    Done {
        state: String,
        status: Option<String>,
        messages: Vec<String>,
    },
}

/// TaskStates after which a task does no more work.
const FINISHED: &[&str] = &[
    "Completed",
    "Exception",
    "Killed",
    "Cancelled",
    "Interrupted",
];

impl Client {
    /// The system's Bios resource (path, JSON); None when the system links none.
    pub async fn bios(&self, system: &Value) -> Result<Option<(String, Value)>, RedfishError> {
        let Some(path) = system.pointer("/Bios/@odata.id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let v = self.get(path).await?;
        Ok(Some((path.to_string(), v)))
    }

    /// Ask for BIOS attribute changes: a PATCH of the pending settings object (applied by
    /// the BMC at the next reset).
    pub async fn bios_set(
        &self,
        bios_path: &str,
        bios: &Value,
        attributes: &Value,
    ) -> Result<(), RedfishError> {
        let target = bios
            .pointer("/@Redfish.Settings/SettingsObject/@odata.id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{bios_path}/Settings"));
        self.patch(&target, &json!({ "Attributes": attributes }))
            .await
    }

    /// `Bios.ResetBios`: factory defaults (applied by the BMC at the next reset).
    pub async fn bios_reset(&self, bios_path: &str, bios: &Value) -> Result<(), RedfishError> {
        let target = action_target(bios_path, bios, "Bios.ResetBios");
        self.post(&target, &json!({})).await
    }

    /// The attribute registry named `id` (a Bios resource's `AttributeRegistry`), found
    /// through the service's registry files; None when the BMC publishes none by that name.
    pub async fn attribute_registry(&self, id: &str) -> Result<Option<Value>, RedfishError> {
        let root = self.get(&self.ep.root).await?;
        let Some(files) = root
            .pointer("/Registries/@odata.id")
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        for file_path in self.members(files).await? {
            let Ok(file) = self.get(&file_path).await else {
                continue;
            };
            let named = [file.get("Id"), file.get("Registry")]
                .iter()
                .any(|n| n.and_then(Value::as_str) == Some(id));
            let uris: Vec<String> = field(&file, "Location")
                .as_array()
                .map(|ls| {
                    ls.iter()
                        .filter(|l| {
                            l.get("Language")
                                .and_then(Value::as_str)
                                .is_none_or(|lang| lang.to_lowercase().starts_with("en"))
                        })
                        .filter_map(|l| l.get("Uri").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            for uri in uris {
                let Ok(reg) = self.get(&uri).await else {
                    continue;
                };
                let is_attributes = reg
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains("AttributeRegistry"));
                if is_attributes && (named || reg.get("Id").and_then(Value::as_str) == Some(id)) {
                    return Ok(Some(reg));
                }
            }
        }
        Ok(None)
    }

    /// The first Manager of the system (path, JSON); None when it names none.
    pub async fn manager(&self, system: &Value) -> Result<Option<(String, Value)>, RedfishError> {
        let Some(path) = member_links(system.pointer("/Links/ManagedBy").unwrap_or(&Value::Null))
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let v = self.get(&path).await?;
        Ok(Some((path, v)))
    }

    /// The NetworkAdapters of the system's first chassis (JSON each); empty when the BMC
    /// lists none.
    pub async fn network_adapters(&self, system: &Value) -> Result<Vec<Value>, RedfishError> {
        let Some(chassis) = member_links(system.pointer("/Links/Chassis").unwrap_or(&Value::Null))
            .into_iter()
            .next()
        else {
            return Ok(vec![]);
        };
        let chassis = self.get(&chassis).await?;
        let Some(adapters) = chassis
            .pointer("/NetworkAdapters/@odata.id")
            .and_then(Value::as_str)
        else {
            return Ok(vec![]);
        };
        let mut out = vec![];
        for a in self.members(adapters).await? {
            out.push(self.get(&a).await?);
        }
        Ok(out)
    }

    /// `UpdateService.SimpleUpdate` with `image`; `targets` when the BMC must be told
    /// which resource to update. Returns where to follow the update: the task monitor
    /// (`Location`) or the Task the BMC answered with; None when it gave neither.
    pub async fn simple_update(
        &self,
        image: &str,
        targets: Option<Vec<String>>,
    ) -> Result<Option<String>, RedfishError> {
        let root = self.get(&self.ep.root).await?;
        let service_path = root
            .pointer("/UpdateService/@odata.id")
            .and_then(Value::as_str)
            .ok_or_else(|| self.protocol("the BMC offers no UpdateService".into()))?
            .to_string();
        let service = self.get(&service_path).await?;
        let action = service.pointer("/Actions/#UpdateService.SimpleUpdate");
        let Some(action) = action else {
            return Err(self.protocol(format!(
                "{service_path} offers no #UpdateService.SimpleUpdate action"
            )));
        };
        let target = action_target(&service_path, &service, "UpdateService.SimpleUpdate");
        let mut body = serde_json::Map::new();
        body.insert("ImageURI".into(), json!(image));
        // Name the protocol when the BMC lists the ones it takes (as sushy does).
        let scheme = image.split("://").next().unwrap_or("").to_uppercase();
        let offered = field(action, "TransferProtocol@Redfish.AllowableValues");
        if offered
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p.as_str() == Some(scheme.as_str())))
        {
            body.insert("TransferProtocol".into(), json!(scheme));
        }
        if let Some(t) = targets {
            body.insert("Targets".into(), json!(t));
        }
        let answer = self
            .exchange(Method::POST, &target, Some(&Value::Object(body)))
            .await?;
        Ok(answer.location.or_else(|| {
            answer
                .body
                .as_ref()
                .and_then(|b| b.get("@odata.id"))
                .and_then(Value::as_str)
                .map(str::to_string)
        }))
    }

    /// Where the task at `monitor` (a task monitor or a Task) stands.
    pub async fn task_poll(&self, monitor: &str) -> Result<TaskPoll, RedfishError> {
        let path = match reqwest::Url::parse(monitor) {
            // A BMC may give an absolute URL; only its path is asked for (same BMC).
            Ok(u) => u.path().to_string(),
            Err(_) => monitor.to_string(),
        };
        let a = self.exchange(Method::GET, &path, None).await?;
        if a.status == 202 {
            return Ok(TaskPoll::Running);
        }
        let Some(task) = a.body.filter(|b| b.get("TaskState").is_some()) else {
            // The monitor answered with the operation's result: it is over.
            return Ok(TaskPoll::Done {
                state: "Completed".into(),
                status: None,
                messages: vec![],
            });
        };
        let state = task
            .get("TaskState")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !FINISHED.contains(&state.as_str()) {
            return Ok(TaskPoll::Running);
        }
        let messages = field(&task, "Messages")
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m.get("Message").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(TaskPoll::Done {
            state,
            status: task
                .get("TaskStatus")
                .and_then(Value::as_str)
                .map(str::to_string),
            messages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::time::Duration;

    /// A BMC on loopback answering each connection with the next (status, body).
    fn bmc(replies: Vec<(u16, &'static str)>) -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for ((status, body), conn) in replies.into_iter().zip(l.incoming().flatten()) {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let mut c = conn;
                let _ = write!(c, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            }
        });
        port
    }

    fn client(port: u16) -> Client {
        Client::new(Endpoint {
            base: format!("http://127.0.0.1:{port}"),
            root: "/redfish/v1/".into(),
            system_id: None,
            username: None,
            password: None,
            verify: Verify::System,
            auth: Auth::Basic,
            timeout: Duration::from_secs(5),
            attempts: 1,
            retry_interval: Duration::from_millis(10),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn tasks_are_running_until_a_final_state() {
        let port = bmc(vec![
            (202, ""),
            (200, r#"{"TaskState": "Running"}"#),
            (
                200,
                r#"{"TaskState": "Exception", "TaskStatus": "Critical", "Messages": [{"Message": "image rejected"}]}"#,
            ),
            (200, r#"{"TaskState": "Completed", "TaskStatus": "OK"}"#),
        ]);
        let c = client(port);
        let m = format!("http://127.0.0.1:{port}/taskmon/1");
        assert_eq!(c.task_poll(&m).await.unwrap(), TaskPoll::Running);
        assert_eq!(c.task_poll("/t/1").await.unwrap(), TaskPoll::Running);
        assert_eq!(
            c.task_poll("/t/1").await.unwrap(),
            TaskPoll::Done {
                state: "Exception".into(),
                status: Some("Critical".into()),
                messages: vec!["image rejected".into()],
            }
        );
        assert!(matches!(
            c.task_poll("/t/1").await.unwrap(),
            TaskPoll::Done { state, .. } if state == "Completed"
        ));
    }
}
