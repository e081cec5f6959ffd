//! A fake Salesforce org on wiremock, answering as Salesforce documents: the token endpoint for
//! the JWT bearer flow (the assertion's RS256 signature checked with the public half of the
//! test key, and its claims) and the web-server flow (refresh tokens rotated, a reused one
//! revoking the family), describe, SOQL queries paged through `nextRecordsUrl`, `getDeleted`,
//! sObject Collections creating Tasks (200 even when one fails), the error arrays, and a
//! `Sforce-Limit-Info` header on every REST answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CLIENT_ID: &str =
    "3MVG9RelanceTEST.fixtureConsumerKey_0000000000000000000000000000000000000000000";
pub const CLIENT_SECRET: &str = "RELANCE-TEST-CONSUMER-SECRET-0001";
pub const USERNAME: &str = "relance.integration@example-acme.com";
pub const ORG: &str = "00D5e000000RlncEAC";
pub const VERSION: &str = "v66.0";

pub fn fixture_path(name: &str) -> String {
    format!(
        "{}/tests/fixtures/salesforce/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture_path(name)).unwrap()).unwrap()
}

/// One `blng__Invoice__c` record as Salesforce returns it.
pub fn blng_invoice(
    id: &str,
    name: &str,
    account: &str,
    contact: Option<(&str, &str)>,
    balance: &str,
    due: &str,
    modstamp: &str,
) -> Value {
    let balance: Value = serde_json::from_str(balance).unwrap();
    json!({
        "attributes": {"type": "blng__Invoice__c", "url": format!("/services/data/v66.0/sobjects/blng__Invoice__c/{id}")},
        "Id": id, "Name": name,
        "blng__Account__c": account,
        "blng__Account__r": {"attributes": {"type": "Account"}, "Name": format!("Account {account}"), "OwnerId": "0055e00000OwnrAAA"},
        "blng__BillToContact__c": contact.map(|c| c.0),
        "blng__BillToContact__r": contact.map(|c| json!({"attributes": {"type": "Contact"}, "Email": c.1})),
        "blng__InvoiceDate__c": "2026-10-01", "blng__DueDate__c": due,
        "blng__TotalAmount__c": balance.clone(), "blng__Balance__c": balance,
        "blng__InvoiceStatus__c": "Posted", "blng__PaymentStatus__c": "Unpaid",
        "CurrencyIsoCode": "EUR", "SystemModstamp": modstamp
    })
}

#[derive(Default)]
pub struct State {
    /// Records by object API name.
    pub objects: HashMap<String, Vec<Value>>,
    /// Field names by object (describe).
    pub fields: HashMap<String, Vec<(String, Option<String>)>>,
    pub deleted: Vec<(String, String, String)>,
    pub access: Vec<String>,
    pub refresh: Option<String>,
    /// The S256 code challenge of the authorization URL the user opened: the code exchange
    /// must present its verifier, as an External Client App requiring PKCE checks.
    pub pkce_challenge: Option<String>,
    pub logins: u32,
    pub jwt_logins: u32,
    /// Sessions expire from this REST call on (1-based).
    pub expire_sessions_at: Option<u32>,
    pub calls: u32,
    pub api_used: u64,
    pub api_max: u64,
    /// Answer 403 REQUEST_LIMIT_EXCEEDED.
    pub limit_exceeded: bool,
    pub queries: Vec<String>,
    pub tasks: Vec<Value>,
    pub page_size: usize,
    /// Id prefixes of objects without activities (a Task cannot point at them).
    pub no_activities: Vec<String>,
    locators: HashMap<String, Vec<Value>>,
}

#[derive(Clone)]
pub struct FakeSalesforce {
    pub server: Arc<MockServer>,
    pub state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>, String);

fn errors(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!([{ "message": message, "errorCode": code }]))
}

impl State {
    fn token(&mut self, request: &Request, uri: &str) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let ok = |s: &mut State, refresh: Option<String>| {
            s.logins += 1;
            let access = format!("00D5e000000Rlnc!access-{}", s.logins);
            s.access.push(access.clone());
            let mut body = json!({
                "access_token": access, "scope": "api refresh_token", "instance_url": uri,
                "id": format!("https://login.salesforce.com/id/{ORG}/0055e00000IntgUAAR"),
                "token_type": "Bearer", "issued_at": "1795514525456"
            });
            if let Some(r) = refresh {
                body["refresh_token"] = json!(r);
            }
            ResponseTemplate::new(200).set_body_json(body)
        };
        let invalid = |d: &str| {
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": d}))
        };
        match form.get("grant_type").map(String::as_str) {
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let assertion = form.get("assertion").cloned().unwrap_or_default();
                match check_assertion(&assertion, uri) {
                    Ok(()) => {
                        self.jwt_logins += 1;
                        ok(self, None)
                    }
                    Err(e) => invalid(&e),
                }
            }
            Some("authorization_code") => {
                if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                    return ResponseTemplate::new(400)
                        .set_body_json(json!({"error": "invalid_client"}));
                }
                if let Some(challenge) = &self.pkce_challenge {
                    use base64::Engine as _;
                    use sha2::Digest as _;
                    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(sha2::Sha256::digest(verifier.as_bytes()));
                    if &computed != challenge {
                        return invalid("invalid code verifier");
                    }
                }
                let r = format!("refresh-{}", self.logins + 1);
                self.refresh = Some(r.clone());
                ok(self, Some(r))
            }
            Some("refresh_token") => {
                if form.get("refresh_token") != self.refresh.as_ref() {
                    // Reusing a rotated token revokes the whole family.
                    self.refresh = None;
                    return invalid("expired access/refresh token");
                }
                let r = format!("refresh-{}", self.logins + 1);
                self.refresh = Some(r.clone());
                ok(self, Some(r))
            }
            _ => invalid("unsupported grant"),
        }
    }

    fn query(&mut self, soql: &str) -> ResponseTemplate {
        self.queries.push(soql.to_string());
        let object = soql
            .split(" FROM ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        let select: Vec<String> = soql
            .trim_start_matches("SELECT ")
            .split(" FROM ")
            .next()
            .unwrap_or("")
            .split(',')
            .map(|f| f.trim().to_string())
            .collect();
        if object == "Organization" {
            return ResponseTemplate::new(200).set_body_json(json!({"totalSize": 1, "done": true,
                "records": [{"attributes": {"type": "Organization"}, "DefaultCurrencyIsoCode": "EUR"}]}));
        }
        if let Some(fields) = self.fields.get(&object) {
            for f in &select {
                let first = f.split('.').next().unwrap();
                let known = fields
                    .iter()
                    .any(|(n, r)| n == first || r.as_deref() == Some(first));
                if !known {
                    return errors(
                        400,
                        "INVALID_FIELD",
                        &format!(
                            "\n{soql}\n^\nERROR at Row:1:Column:8\nNo such column '{f}' on entity '{object}'."
                        ),
                    );
                }
            }
        }
        let mut rows: Vec<Value> = self.objects.get(&object).cloned().unwrap_or_default();
        let where_ = soql.split(" WHERE ").nth(1).unwrap_or("");
        if let Some(list) = where_
            .strip_prefix("Id IN (")
            .filter(|l| !l.starts_with("SELECT "))
        {
            let ids: Vec<String> = list
                .split(')')
                .next()
                .unwrap()
                .split(',')
                .map(|s| s.trim().trim_matches('\'').to_string())
                .collect();
            rows.retain(|r| ids.iter().any(|i| r["Id"] == json!(i)));
        }
        if object == "Task" {
            let ids: Vec<String> = where_
                .split("WhatId IN (")
                .nth(1)
                .map(|l| {
                    l.split(')')
                        .next()
                        .unwrap()
                        .split(',')
                        .map(|s| s.trim().trim_matches('\'').to_string())
                        .collect()
                })
                .unwrap_or_default();
            rows = self
                .tasks
                .iter()
                .filter(|t| ids.iter().any(|i| t["WhatId"] == json!(i)))
                .cloned()
                .collect();
        }
        if let Some(since) = where_.split("SystemModstamp >= ").nth(1) {
            let since = since.split_whitespace().next().unwrap();
            let since = chrono::DateTime::parse_from_rfc3339(since).unwrap();
            rows.retain(|r| {
                let t = r["SystemModstamp"].as_str().unwrap();
                chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z").unwrap() >= since
            });
        }
        if object == "Account" && where_.contains("(SELECT ") {
            // Accounts of the invoices of the sub-query's object.
            let inner = where_
                .split("FROM ")
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap();
            let field = where_
                .split("(SELECT ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            let ids: Vec<Value> = self
                .objects
                .get(inner.trim())
                .into_iter()
                .flatten()
                .map(|r| r[field].clone())
                .collect();
            rows.retain(|r| ids.contains(&r["Id"]));
        }
        rows.sort_by_key(|r| {
            (
                r["SystemModstamp"].as_str().unwrap_or("").to_string(),
                r["Id"].as_str().unwrap_or("").to_string(),
            )
        });
        self.page(rows)
    }

    fn page(&mut self, mut rows: Vec<Value>) -> ResponseTemplate {
        let size = if self.page_size == 0 {
            2000
        } else {
            self.page_size
        };
        let total = rows.len();
        let rest = if rows.len() > size {
            rows.split_off(size)
        } else {
            Vec::new()
        };
        let mut body = json!({"totalSize": total, "done": rest.is_empty(), "records": rows});
        if !rest.is_empty() {
            let locator = format!("0r85e00000Qry{:02}AAB-{size}", self.locators.len());
            body["nextRecordsUrl"] = json!(format!("/services/data/{VERSION}/query/{locator}"));
            self.locators.insert(locator, rest);
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn api(&mut self, request: &Request) -> ResponseTemplate {
        self.calls += 1;
        if self.expire_sessions_at == Some(self.calls) {
            self.access.clear();
        }
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !self.access.iter().any(|a| a == bearer) {
            return ResponseTemplate::new(401)
                .set_body_json(fixture("error-401-invalid-session-id.json"));
        }
        if self.limit_exceeded {
            return ResponseTemplate::new(403)
                .set_body_json(fixture("error-403-request-limit-exceeded.json"));
        }
        self.api_used += 1;
        let path = request.url.path().to_string();
        let prefix = format!("/services/data/{VERSION}/");
        let Some(rest) = path.strip_prefix(&prefix) else {
            return errors(404, "NOT_FOUND", "The requested resource does not exist");
        };
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        match (request.method.as_str(), rest) {
            ("GET", "query") => self.query(&query["q"]),
            ("GET", p) if p.starts_with("query/") => {
                let locator = &p["query/".len()..];
                match self.locators.remove(locator) {
                    Some(rows) => self.page(rows),
                    None => errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator"),
                }
            }
            ("GET", p) if p.starts_with("sobjects/") && p.ends_with("/describe") => {
                let object = p.split('/').nth(1).unwrap();
                match self.fields.get(object) {
                    Some(fields) => ResponseTemplate::new(200).set_body_json(json!({
                        "name": object,
                        "fields": fields.iter().map(|(n, r)| json!({"name": n, "relationshipName": r})).collect::<Vec<_>>(),
                    })),
                    None => errors(404, "NOT_FOUND", "The requested resource does not exist"),
                }
            }
            ("GET", p) if p.starts_with("sobjects/") && p.ends_with("/deleted/") => {
                let object = p.split('/').nth(1).unwrap();
                let records: Vec<Value> = self
                    .deleted
                    .iter()
                    .filter(|(o, _, _)| o == object)
                    .map(|(_, id, at)| json!({"id": id, "deletedDate": at}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "deletedRecords": records,
                    "earliestDateAvailable": "2026-11-10T00:00:00.000+0000",
                    "latestDateCovered": "2026-11-24T08:00:00.000+0000"}))
            }
            ("POST", "composite/sobjects") => {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let mut out = Vec::new();
                for r in body["records"].as_array().unwrap() {
                    if r["WhatId"].as_str().is_some_and(|w| {
                        self.no_activities.iter().any(|p| w.starts_with(p.as_str()))
                    }) {
                        out.push(json!({"success": false, "errors": [{"statusCode": "FIELD_INTEGRITY_EXCEPTION",
                            "message": "Related To ID: id value of incorrect type", "fields": ["WhatId"]}]}));
                    } else if r["WhoId"].as_str().is_some_and(|w| w.starts_with("001")) {
                        out.push(json!({"success": false, "errors": [{"statusCode": "MALFORMED_ID",
                            "message": format!("Name ID: id value of incorrect type: {}", r["WhoId"].as_str().unwrap()),
                            "fields": ["WhoId"]}]}));
                    } else {
                        let id = format!("00T5e00000Rem{:02}EAB", self.tasks.len());
                        let mut t = r.clone();
                        t["Id"] = json!(id);
                        self.tasks.push(t);
                        out.push(json!({"id": id, "success": true, "errors": []}));
                    }
                }
                ResponseTemplate::new(200).set_body_json(out)
            }
            _ => errors(404, "NOT_FOUND", "The requested resource does not exist"),
        }
    }
}

/// The assertion's signature (with the public half of the test key) and claims.
fn check_assertion(assertion: &str, _uri: &str) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = assertion.split('.');
    let (Some(h), Some(c), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("malformed assertion".into());
    };
    let pem = std::fs::read(fixture_path("jwt-test-private-key.pem")).unwrap();
    let der = pem_to_der(&pem);
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec(),
    );
    let signature = b64.decode(s).map_err(|_| "signature not base64url")?;
    public
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| "invalid assertion signature".to_string())?;
    let header: Value = serde_json::from_slice(&b64.decode(h).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&b64.decode(c).unwrap()).unwrap();
    if header["alg"] != "RS256" {
        return Err("alg".into());
    }
    if claims["iss"] != CLIENT_ID {
        return Err("invalid client credentials".into());
    }
    if claims["sub"] != USERNAME {
        return Err("user hasn't approved this consumer".into());
    }
    if !claims["aud"].is_string() || !claims["exp"].is_i64() {
        return Err("audience or expiry missing".into());
    }
    Ok(())
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(pem);
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        if request.url.path() == "/services/oauth2/token" {
            return s.token(request, &self.1);
        }
        let r = s.api(request);
        let limit = format!("api-usage={}/{}", s.api_used, s.api_max.max(1));
        r.insert_header("Sforce-Limit-Info", limit.as_str())
    }
}

impl FakeSalesforce {
    pub async fn start() -> FakeSalesforce {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            api_max: 115_000,
            ..State::default()
        }));
        Mock::given(any())
            .respond_with(Responder(state.clone(), server.uri()))
            .mount(&server)
            .await;
        let fake = FakeSalesforce {
            server: Arc::new(server),
            state,
        };
        fake.with(|s| {
            let describe = fixture("describe-blng-invoice-excerpt.json");
            s.fields.insert(
                "blng__Invoice__c".into(),
                describe["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["name"].as_str().unwrap().to_string(),
                            f["relationshipName"].as_str().map(str::to_string),
                        )
                    })
                    .collect(),
            );
        });
        fake
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// The YAML of a JWT-bearer connector on `object`, pointed at this fake.
    pub fn connector_yaml(&self, id: &str, invoices: &str) -> String {
        format!(
            "  - id: {id}\n    kind: salesforce\n    login_url: {uri}\n    api_version: \"66.0\"\n    \
             auth:\n      flow: jwt_bearer\n      client_id: {CLIENT_ID}\n      username: {USERNAME}\n      \
             private_key_file: {key}\n    invoices:\n{invoices}    outbound_message_org_id: {ORG}\n    \
             api_share: 0.2\n    poll_interval: 15m\n",
            uri = self.uri(),
            key = fixture_path("jwt-test-private-key.pem"),
        )
    }
}
