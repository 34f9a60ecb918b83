//! The Machines view (`/ui/`, `/ui/machines`): every node with its states at a glance.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::super::error::ApiError;
use super::super::State;
use super::{page, Chrome, UiUser};
use crate::db::{NodeFilter, Page};

/// One row of the table.
struct Row {
    uuid: String,
    name: String,
    power_state: String,
    provision_state: String,
}

#[derive(Template)]
#[template(path = "ui/machines.html")]
struct MachinesPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

async fn list(user: UiUser, state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let page_spec = Page {
        limit: 100,
        marker: None,
        sort_key: "id".into(),
        descending: false,
    };
    let nodes = state
        .store
        .node_list(NodeFilter::default(), page_spec)
        .await?;
    let rows = nodes
        .into_iter()
        .map(|n| Row {
            name: n.name.clone().unwrap_or_else(|| n.uuid.clone()),
            uuid: n.uuid,
            power_state: n.power_state.unwrap_or_else(|| "None".into()),
            provision_state: n.provision_state,
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &MachinesPage {
            chrome: user.chrome("machines"),
            rows,
        },
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["", "/", "/machines"]).route(web::get().to(list)));
}
