//! The server's OpenAPI document as a contract: real answers are checked against the
//! response schema it declares for their path, method and status (JSON Schema 2020-12,
//! as OpenAPI 3.1 defines it), with every object closed to properties it does not
//! declare, so an answer field missing from the document fails too.

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

/// `/openapi.json`, ready to check answers against.
pub struct Contract {
    doc: Value,
    /// `components` with every object schema closed (`additionalProperties: false`).
    components: Value,
    checked: std::cell::RefCell<Vec<String>>,
}

impl Contract {
    pub fn new(doc: Value) -> Self {
        let mut components = doc["components"].clone();
        close_objects(&mut components);
        Self { doc, components, checked: Default::default() }
    }

    /// The documented operations, as (METHOD, path template).
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, methods) in self.doc["paths"].as_object().unwrap() {
            for method in methods.as_object().unwrap().keys() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    /// Whether `method template` is documented as needing a bearer token.
    pub fn secured(&self, method: &str, template: &str) -> bool {
        self.operation(method, template).get("security").is_some()
    }

    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        op
    }

    /// The response documented for `method template` at `status` (the exact status,
    /// else its class such as `4XX`, else `default`), and the answer's media type.
    fn response<'a>(
        &self,
        method: &str,
        template: &str,
        status: StatusCode,
        content_type: &'a str,
    ) -> (Value, &'a str) {
        let responses = &self.operation(method, template)["responses"];
        let class = format!("{}XX", status.as_u16() / 100);
        let response = [status.as_str(), class.as_str(), "default"]
            .iter()
            .map(|k| &responses[*k])
            .find(|r| r.is_object())
            .unwrap_or_else(|| panic!("{method} {template}: {status} is not documented: {responses}"));
        (response.clone(), content_type.split(';').next().unwrap_or("").trim())
    }

    /// Checks an answer's body against the schema documented for `method template`
    /// at `status` (the exact status, else its class such as `4XX`, else `default`).
    pub fn check(&self, method: &str, template: &str, status: StatusCode, content_type: &str, body: &str) {
        let (response, media) = self.response(method, template, status, content_type);
        let Some(schema) = response["content"].get(media).map(|c| &c["schema"]) else {
            panic!("{method} {template}: {status} answered {media}, documented: {response}");
        };
        let instance: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{method} {template}: {status}: not JSON ({e}): {body}"));
        let mut root = schema.clone();
        close_objects(&mut root);
        let mut root = match root {
            Value::Object(map) => map,
            other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
        };
        root.insert("components".into(), self.components.clone());
        root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
        let validator = jsonschema::validator_for(&Value::Object(root)).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{method} {template} {status} does not match its schema: {errors:#?}\n{body}");
        self.checked.borrow_mut().push(format!("{method} {template} {}", status.as_u16()));
    }

    /// Checks that a non-JSON answer's status and content type are documented.
    pub fn check_media(&self, method: &str, template: &str, status: StatusCode, content_type: &str) {
        let (response, media) = self.response(method, template, status, content_type);
        let documented =
            response["content"].as_object().map(|c| c.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert!(
            documented.iter().any(|d| d == media || d == "*/*") || (documented.is_empty() && media.is_empty()),
            "{method} {template}: {status} answered {media:?}, documented {documented:?}"
        );
        self.checked.borrow_mut().push(format!("{method} {template} {}", status.as_u16()));
    }

    /// The (METHOD template status) answers checked so far.
    pub fn checked(&self) -> Vec<String> {
        self.checked.borrow().clone()
    }
}

/// Adds `additionalProperties: false` to every object schema that lists its
/// properties and says nothing about others.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for value in map.values_mut() {
                close_objects(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}
