//! The OpenAPI 3.1 document of `/api/v1`, made from the route table at start: every API route
//! appears with its summary, path parameters, body and answer schemas (utoipa's `ToSchema`),
//! the permission it needs and the error shape. Served at `/api/v1/openapi.json`.

use std::sync::OnceLock;

use axum::response::IntoResponse;
use serde_json::{json, Map, Value};

use super::routes::{table, Need, RouteDef};

pub fn routes() -> Vec<RouteDef> {
    vec![RouteDef::get("/api/v1/openapi.json", Need::Public, "This document", serve)]
}

async fn serve() -> axum::response::Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| serde_json::to_string_pretty(&document()).unwrap_or_default());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.as_str()).into_response()
}

fn need_text(need: Need) -> String {
    match need {
        Need::Public => "none".into(),
        Need::Login => "any login".into(),
        Need::May(a) => format!("a role that may {}", a.as_phrase()),
        Need::Lane(a) => format!("a role that may {}, logged in at this lane", a.as_phrase()),
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut components: Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> = Vec::new();
    components.push(("WebError".into(), <super::WebError as utoipa::PartialSchema>::schema()));
    for r in table().iter().filter(|r| r.is_api()) {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let error = json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/WebError" } } } });
        let mut responses = Map::new();
        match r.response {
            Some(s) => {
                (s.components)(&mut components);
                let name = (s.name)();
                components.push((name.clone(), (s.schema)()));
                responses.insert("200".into(), json!({ "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } }));
            }
            None => {
                responses.insert("200".into(), json!({ "description": "OK" }));
            }
        }
        responses.insert("4XX".into(), error);
        let tag = r.path.trim_start_matches("/api/v1/").split('/').next().unwrap_or("api").to_string();
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method.as_str().to_ascii_lowercase(), r.path.replace(['/', '{', '}', '.', '-'], "_")),
            "tags": [tag],
            "parameters": params,
            "responses": responses,
            "x-storehub-permission": need_text(r.need),
        });
        if r.need == Need::Public {
            op["security"] = json!([]);
        }
        if let Some(b) = r.request {
            (b.components)(&mut components);
            let name = (b.name)();
            components.push((name.clone(), (b.schema)()));
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } });
        }
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method.as_str().to_ascii_lowercase()] = op;
    }
    let mut schemas = Map::new();
    for (name, schema) in components {
        schemas.entry(name).or_insert_with(|| serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "storehub LAN API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The in-store hub's API for the shop's screens and HQ's tools. Log in with POST /api/v1/session (then send the session cookie and its X-CSRF-Token on every POST, PUT and DELETE), or send `Authorization: Bearer <token>` made with `storehub token add`. Errors are {code, message, field?}.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": "sh_session" },
                "token": { "type": "http", "scheme": "bearer" },
            },
        },
        "security": [{ "session": [] }, { "token": [] }],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_api_route_is_in_the_document_with_its_schemas_resolved() {
        let doc = super::document();
        for r in super::table().iter().filter(|r| r.is_api()) {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} missing", r.method, r.path);
        }
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(doc["components"]["schemas"][name].is_object(), "schema {name} is referred to but not defined");
        }
    }
}
