//! A fake Stripe on wiremock, answering as Stripe documents: bodies are built from the
//! fixtures in `tests/fixtures/stripe` (copied from ../shared/providers/stripe), lists are
//! paginated with `limit`/`starting_after`/`has_more`, events filtered by `created[gte]` and
//! `types[]`, errors are Stripe's error objects, and metadata write-backs are recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const KEY: &str = "sk_test_51RelanceTestKey0000000000";
pub const WEBHOOK_SECRET: &str = "whsec_RelanceTestWebhookSecret000";

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An open `send_invoice` invoice built from `invoice-open-overdue.json`.
pub fn invoice(
    id: &str,
    number: &str,
    customer: &str,
    amount: i64,
    currency: &str,
    due: i64,
    created: i64,
) -> Value {
    let mut v = fixture("invoice-open-overdue.json");
    v["id"] = json!(id);
    v["number"] = json!(number);
    v["customer"] = json!(customer);
    for k in [
        "amount_due",
        "amount_remaining",
        "total",
        "subtotal",
        "subtotal_excluding_tax",
        "total_excluding_tax",
    ] {
        v[k] = json!(amount);
    }
    v["amount_paid"] = json!(0);
    v["currency"] = json!(currency);
    v["due_date"] = json!(due);
    v["created"] = json!(created);
    v["effective_at"] = json!(created);
    v["period_start"] = json!(created);
    v["period_end"] = json!(created);
    v["status_transitions"]["finalized_at"] = json!(created);
    v["hosted_invoice_url"] = json!(format!(
        "https://invoice.stripe.com/i/acct_1PzRln8DemoAtelr/test_{id}?s=ap"
    ));
    v["metadata"] = json!({});
    v["lines"]["data"] = json!([]);
    v["lines"]["url"] = json!(format!("/v1/invoices/{id}/lines"));
    v
}

/// Marks an invoice paid at `at`, as Stripe shows it after a hosted-page payment.
pub fn pay(v: &mut Value, at: i64) {
    let total = v["total"].clone();
    v["status"] = json!("paid");
    v["amount_paid"] = total;
    v["amount_remaining"] = json!(0);
    v["auto_advance"] = json!(false);
    v["status_transitions"]["paid_at"] = json!(at);
}

pub fn customer(id: &str, name: &str, email: &str, locale: &str) -> Value {
    let mut v = fixture("customer.json");
    v["id"] = json!(id);
    v["name"] = json!(name);
    v["email"] = json!(email);
    v["preferred_locales"] = json!([locale]);
    v["metadata"] = json!({});
    v
}

/// An event carrying `object`, built from the `invoice.paid` event of `events-list-page.json`.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    let mut e = fixture("events-list-page.json")["data"][1].clone();
    e["id"] = json!(id);
    e["type"] = json!(kind);
    e["created"] = json!(created);
    e["data"] = json!({ "object": object });
    e["request"] = json!({ "id": null, "idempotency_key": null });
    e
}

/// `Stripe-Signature` for `payload` at `t`, as Stripe computes it.
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone)]
pub struct WriteBackSeen {
    pub invoice: String,
    pub form: HashMap<String, String>,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub customers: Vec<Value>,
    /// Newest first, as Stripe lists them.
    pub invoices: Vec<Value>,
    pub events: Vec<Value>,
    pub writebacks: Vec<WriteBackSeen>,
    pub requests: Vec<(String, String)>,
    pub versions: Vec<Option<String>>,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub server: Arc<MockServer>,
    pub state: Arc<Mutex<State>>,
}

struct Api(Arc<Mutex<State>>);

fn error(status: u16, name: &str, message: Option<&str>) -> ResponseTemplate {
    let mut body = fixture(name);
    if let Some(m) = message {
        body["error"]["message"] = json!(m);
    }
    ResponseTemplate::new(status)
        .insert_header("request-id", "req_fake")
        .set_body_json(body)
}

fn page(items: &[Value], query: &HashMap<String, Vec<String>>, url: &str) -> Value {
    let limit: usize = query
        .get("limit")
        .and_then(|v| v.first())
        .and_then(|l| l.parse().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let start = match query.get("starting_after").and_then(|v| v.first()) {
        Some(after) => items
            .iter()
            .position(|i| i["id"] == json!(after))
            .map(|p| p + 1)
            .unwrap_or(items.len()),
        None => 0,
    };
    let data: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    json!({
        "object": "list",
        "data": data,
        "has_more": start + limit < items.len(),
        "url": url,
    })
}

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let path = req.url.path().to_string();
        let method = req.method.to_string();
        state.requests.push((method.clone(), path.clone()));
        state.versions.push(
            req.headers
                .get("stripe-version")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        );
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {KEY}") {
            return error(401, "error-401-invalid-key.json", None);
        }
        let mut query: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in req.url.query_pairs() {
            query
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
        let ok = |v: Value| {
            ResponseTemplate::new(200)
                .insert_header("request-id", "req_fake")
                .set_body_json(v)
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "customers"]) => ok(page(&state.customers, &query, "/v1/customers")),
            ("GET", ["v1", "invoices"]) => ok(page(&state.invoices, &query, "/v1/invoices")),
            ("GET", ["v1", "invoices", id]) => match state.invoices.iter().find(|i| i["id"] == json!(id)) {
                Some(i) => ok(i.clone()),
                None => error(404, "error-404-no-such-invoice.json", Some(&format!("No such invoice: '{id}'"))),
            },
            ("GET", ["v1", "customers", id]) => match state.customers.iter().find(|c| c["id"] == json!(id)) {
                Some(c) => ok(c.clone()),
                None => error(404, "error-404-no-such-invoice.json", Some(&format!("No such customer: '{id}'"))),
            },
            ("GET", ["v1", "events"]) => {
                let since: i64 = query
                    .get("created[gte]")
                    .and_then(|v| v.first())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let types = query.get("types[]").cloned().unwrap_or_default();
                let mut events: Vec<Value> = state
                    .events
                    .iter()
                    .filter(|e| e["created"].as_i64().unwrap_or(0) >= since)
                    .filter(|e| types.is_empty() || types.iter().any(|t| e["type"] == json!(t)))
                    .cloned()
                    .collect();
                events.sort_by_key(|e| std::cmp::Reverse(e["created"].as_i64().unwrap_or(0)));
                ok(page(&events, &query, "/v1/events"))
            }
            ("POST", ["v1", "invoices", id]) => {
                let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
                    .into_owned()
                    .collect();
                let key = req
                    .headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let id = id.to_string();
                let Some(inv) = state.invoices.iter_mut().find(|i| i["id"] == json!(id)) else {
                    return error(404, "error-404-no-such-invoice.json", Some(&format!("No such invoice: '{id}'")));
                };
                for (k, v) in &form {
                    if let Some(name) = k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')) {
                        inv["metadata"][name] = json!(v);
                    }
                }
                let body = inv.clone();
                state.writebacks.push(WriteBackSeen {
                    invoice: id,
                    form,
                    idempotency_key: key,
                });
                ok(body)
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({
                "error": {"type": "invalid_request_error", "message": format!("Unrecognized request URL ({method}: {path})")}
            })),
        }
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let server = MockServer::start().await;
        let state: Arc<Mutex<State>> = Arc::default();
        Mock::given(any())
            .respond_with(Api(state.clone()))
            .with_priority(10)
            .mount(&server)
            .await;
        FakeStripe {
            server: Arc::new(server),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn add_customer(&self, c: Value) {
        self.state.lock().unwrap().customers.insert(0, c);
    }

    /// Adds an invoice at the front (newest).
    pub fn add_invoice(&self, i: Value) {
        self.state.lock().unwrap().invoices.insert(0, i);
    }

    pub fn update_invoice(&self, id: &str, f: impl FnOnce(&mut Value)) -> Value {
        let mut s = self.state.lock().unwrap();
        let inv = s
            .invoices
            .iter_mut()
            .find(|i| i["id"] == json!(id))
            .expect("invoice exists");
        f(inv);
        inv.clone()
    }

    pub fn add_event(&self, e: Value) {
        self.state.lock().unwrap().events.push(e);
    }

    pub fn writebacks(&self) -> Vec<WriteBackSeen> {
        self.state.lock().unwrap().writebacks.clone()
    }

    pub fn requests(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().requests.clone()
    }
}
