//! Outbound Messages: the SOAP 1.1 notifications Salesforce POSTs when a Flow (or workflow rule)
//! fires, the acknowledgement it waits for, and the only "check" that can be made on them.
//!
//! A message is `Envelope/Body/notifications` with `OrganizationId`, `ActionId`, `SessionId`
//! (nil: "Send Session ID" must stay off), the SOAP URLs, then 1 to 100 `Notification`
//! elements, each with `Id` (prefix `04l`, the de-duplication key) and an `sObject` of
//! `xsi:type="sf:<ApiName>"` holding the fields chosen in Setup. Messages are retried for up to
//! 24 hours, may arrive twice and out of order, and carry only the record's latest state, so each
//! notification is taken as "fetch this record again", never as data: amounts in it are ignored.
//!
//! Parsing matches local names only (prefixes and namespaces vary between captures), refuses any
//! DTD and any entity other than XML's five and character references (no expansion, no external
//! entities), and stops at 100 notifications. The HTTP layer caps the body size.

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use relance_core::{
    InboundEvent, ObjectRef, SignatureCheck, UnverifiedWebhook, WebhookError, WebhookReply,
};

/// Salesforce sends at most 100 notifications in one message.
pub const MAX_NOTIFICATIONS: usize = 100;

/// Deeper nesting than this is not an Outbound Message.
const MAX_DEPTH: usize = 32;

/// The `kind` of the events made from notifications.
pub const EVENT_KIND: &str = "outbound_message";

/// One Outbound Message: the org, the outbound-message definition, the notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifications {
    /// `OrganizationId`, as sent (18 characters).
    pub organization_id: String,
    /// `ActionId`: the outbound-message definition (prefix `04k`).
    pub action_id: Option<String>,
    /// The notifications, in message order.
    pub items: Vec<Notification>,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notification id (prefix `04l`): the same on every retry of this notification.
    pub id: String,
    /// The record's object API name, from `xsi:type="sf:blng__Invoice__c"`.
    pub object_type: Option<String>,
    /// The record id (`sf:Id`); absent when the record was deleted before delivery.
    pub record_id: Option<String>,
}

/// Where the parser is: the local names of the open elements.
struct Parser {
    stack: Vec<String>,
    text: String,
    organization_id: Option<String>,
    action_id: Option<String>,
    items: Vec<Notification>,
    current: Option<Notification>,
    seen_notifications: bool,
}

impl Parser {
    /// The local names of the element and its parent, innermost last.
    fn path_ends_with(&self, tail: &[&str]) -> bool {
        self.stack.len() >= tail.len()
            && self.stack[self.stack.len() - tail.len()..]
                .iter()
                .zip(tail)
                .all(|(a, b)| a == b)
    }

    fn open(&mut self, element: &BytesStart<'_>) -> Result<(), String> {
        let name = std::str::from_utf8(element.local_name().into_inner())
            .map_err(|_| "an element name is not UTF-8".to_string())?
            .to_string();
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("elements nested deeper than {MAX_DEPTH}"));
        }
        self.stack.push(name);
        self.text.clear();
        if self.path_ends_with(&["notifications"]) {
            if self.seen_notifications {
                return Err("more than one notifications element".into());
            }
            self.seen_notifications = true;
        } else if self.path_ends_with(&["notifications", "Notification"]) {
            if self.items.len() >= MAX_NOTIFICATIONS {
                return Err(format!(
                    "more than {MAX_NOTIFICATIONS} notifications in one message"
                ));
            }
            self.current = Some(Notification {
                id: String::new(),
                object_type: None,
                record_id: None,
            });
        } else if self.path_ends_with(&["Notification", "sObject"]) {
            let object_type = xsi_type(element)?;
            if let Some(n) = self.current.as_mut() {
                n.object_type = object_type;
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let text = self.text.trim().to_string();
        self.text.clear();
        if self.path_ends_with(&["notifications", "OrganizationId"]) {
            self.organization_id = Some(text).filter(|t| !t.is_empty());
        } else if self.path_ends_with(&["notifications", "ActionId"]) {
            self.action_id = Some(text).filter(|t| !t.is_empty());
        } else if self.path_ends_with(&["Notification", "Id"]) {
            if let Some(n) = self.current.as_mut() {
                n.id = text;
            }
        } else if self.path_ends_with(&["Notification", "sObject", "Id"]) {
            if let Some(n) = self.current.as_mut() {
                n.record_id = Some(text).filter(|t| !t.is_empty());
            }
        } else if self.path_ends_with(&["notifications", "Notification"]) {
            let n = self.current.take().expect("opened with the element");
            if n.id.is_empty() {
                return Err(format!("notification {} has no Id", self.items.len() + 1));
            }
            self.items.push(n);
        }
        self.stack.pop();
        Ok(())
    }
}

/// `xsi:type="sf:blng__Invoice__c"` → `blng__Invoice__c` (any prefix on the attribute and value).
fn xsi_type(element: &BytesStart<'_>) -> Result<Option<String>, String> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| format!("malformed attribute: {e}"))?;
        if attribute.key.local_name().as_ref() == b"type" {
            let value = attribute
                .unescape_value()
                .map_err(|e| format!("malformed xsi:type: {e}"))?;
            let value = value.trim();
            let name = value.rsplit_once(':').map_or(value, |(_, n)| n);
            return Ok(Some(name.to_string()).filter(|n| !n.is_empty()));
        }
    }
    Ok(None)
}

/// Parses an Outbound Message body.
pub fn parse(body: &[u8]) -> Result<Notifications, String> {
    let mut reader = Reader::from_reader(body);
    let mut p = Parser {
        stack: Vec::new(),
        text: String::new(),
        organization_id: None,
        action_id: None,
        items: Vec::new(),
        current: None,
        seen_notifications: false,
    };
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "malformed XML at byte {}: {e}",
                reader.error_position().max(reader.buffer_position())
            )
        })?;
        match event {
            Event::DocType(_) => {
                return Err("a DTD (<!DOCTYPE>) is not allowed in an Outbound Message".into());
            }
            Event::Start(e) => p.open(&e)?,
            Event::Empty(e) => {
                p.open(&e)?;
                p.close()?;
            }
            Event::End(_) => p.close()?,
            Event::Text(t) => {
                let text = t.decode().map_err(|e| format!("text is not UTF-8: {e}"))?;
                p.text.push_str(&text);
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| format!("CDATA is not UTF-8: {e}"))?;
                p.text.push_str(&text);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.as_ref() {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"apos" => '\'',
                        b"quot" => '"',
                        _ => return Err("entity references are not allowed".into()),
                    },
                    Err(e) => return Err(format!("malformed character reference: {e}")),
                };
                p.text.push(resolved);
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !p.stack.is_empty() {
        return Err(format!(
            "truncated XML: {} element(s) not closed",
            p.stack.len()
        ));
    }
    if !p.seen_notifications {
        return Err("not an Outbound Message: no notifications element".into());
    }
    let organization_id = p
        .organization_id
        .ok_or("the Outbound Message has no OrganizationId")?;
    Ok(Notifications {
        organization_id,
        action_id: p.action_id,
        items: p.items,
    })
}

const ACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
   <Ack>true</Ack>
  </notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>
"#;

/// The acknowledgement Salesforce waits for (HTTP 200, `text/xml`) within 60 s; anything else
/// makes it retry. Answer it only after the body is stored.
pub fn ack() -> String {
    ACK.to_string()
}

/// A SOAP 1.1 Fault (`soapenv:Client`) carrying `message`, escaped. Salesforce retries after it.
pub fn fault(message: &str) -> String {
    // Characters XML 1.0 cannot carry at all become spaces before escaping.
    let clean: String = message
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => ' ',
            c => c,
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <soapenv:Fault>
   <faultcode>soapenv:Client</faultcode>
   <faultstring>{}</faultstring>
  </soapenv:Fault>
 </soapenv:Body>
</soapenv:Envelope>
"#,
        quick_xml::escape::escape(clean.as_str())
    )
}

/// [`ack`] as a webhook reply.
pub fn ack_reply() -> WebhookReply {
    WebhookReply {
        status: 200,
        content_type: "text/xml; charset=utf-8",
        body: ack(),
    }
}

/// A refused message as a webhook reply: [`fault`] with the error's status.
pub fn fault_reply(error: &WebhookError) -> WebhookReply {
    WebhookReply {
        status: error.status(),
        content_type: "text/xml; charset=utf-8",
        body: fault(&error.to_string()),
    }
}

/// The "signature check" of Outbound Messages: the `OrganizationId` must be the configured org.
///
/// Salesforce signs nothing it sends: there is no secret, HMAC or timestamp to verify. Its
/// documented defences are deployment matters outside this crate: accepting only Salesforce's
/// IP ranges (which other Salesforce customers share), HTTPS with Salesforce's client
/// certificate (mutual TLS), and a long random secret in the endpoint path. What the body itself
/// allows is this: refusing messages from any other org (a sandbox, or another customer
/// pointing an outbound message at Relance). A forged message can only make Relance re-read the
/// named records over the authenticated REST API, since notifications are never taken as data.
#[derive(Debug, Clone)]
pub struct OrgCheck {
    org_id: String,
}

impl OrgCheck {
    /// A check for the org `org_id` (15 or 18 characters).
    pub fn new(org_id: impl Into<String>) -> Self {
        OrgCheck {
            org_id: org_id.into().trim().to_string(),
        }
    }
}

/// Whether two org ids name the same org: 18-character ids compare case-insensitively (the
/// suffix encodes the case); if either is the 15-character form, the first 15 characters compare
/// case-sensitively.
pub fn same_org(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if !is_org_id(a) || !is_org_id(b) {
        return false;
    }
    if a.len() == 18 && b.len() == 18 {
        a.eq_ignore_ascii_case(b)
    } else {
        a.as_bytes()[..15] == b.as_bytes()[..15]
    }
}

/// Salesforce ids are 15 or 18 ASCII letters and digits.
fn is_org_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// An org id fit to repeat in an error.
fn shown(id: &str) -> String {
    if is_org_id(id) {
        id.to_string()
    } else {
        format!("an invalid id ({} characters)", id.chars().count())
    }
}

impl SignatureCheck for OrgCheck {
    fn check(&self, webhook: &UnverifiedWebhook, _now: DateTime<Utc>) -> Result<(), WebhookError> {
        if webhook.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(WebhookError::Malformed(
                "empty body: not an Outbound Message".into(),
            ));
        }
        let message = parse(&webhook.body).map_err(WebhookError::Malformed)?;
        if same_org(&message.organization_id, &self.org_id) {
            Ok(())
        } else {
            Err(WebhookError::WrongAccount(format!(
                "Outbound Message from Salesforce org {}, this connector is configured for org {}",
                shown(&message.organization_id),
                shown(&self.org_id)
            )))
        }
    }
}

/// One event per notification, id `om:<notification id>` (stable across Salesforce's retries),
/// asking to fetch the record again. A notification without a record id (the record was deleted
/// before delivery, so the message carries no data) still gives an event, with nothing to
/// fetch, so that it is recorded and its retries are de-duplicated; the next sync notices the
/// deletion. The object type is not checked here: the connector fetches from its configured
/// object.
pub fn events(n: &Notifications) -> Vec<InboundEvent> {
    n.items
        .iter()
        .map(|item| InboundEvent {
            id: Some(format!("om:{}", item.id)),
            kind: EVENT_KIND.to_string(),
            changes: Vec::new(),
            refetch: item
                .record_id
                .iter()
                .map(|id| ObjectRef::invoice(id.clone()))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/salesforce/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn hook(body: &[u8]) -> UnverifiedWebhook {
        UnverifiedWebhook {
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T09:00:00Z".parse().unwrap()
    }

    fn message(org: &str, notifications: usize) -> String {
        let mut body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId>"#
        );
        for i in 0..notifications {
            body.push_str(&format!(
                "<Notification><Id>04l5e00000N{i:04}AAB</Id><sObject xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"sf:Invoice\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>3tt5e00000S{i:04}AAB</sf:Id></sObject></Notification>"
            ));
        }
        body.push_str("</notifications></soapenv:Body></soapenv:Envelope>");
        body
    }

    #[test]
    fn the_fixture_parses() {
        let n = parse(&fixture("outbound-message-notification.xml")).unwrap();
        assert_eq!(
            n,
            Notifications {
                organization_id: "00D5e000000RlncEAC".into(),
                action_id: Some("04k5e00000OmRlnAAF".into()),
                items: vec![
                    Notification {
                        id: "04l5e00000Ntf01AAB".into(),
                        object_type: Some("blng__Invoice__c".into()),
                        record_id: Some("a1X5e00000Inv01EAB".into()),
                    },
                    Notification {
                        id: "04l5e00000Ntf02AAB".into(),
                        object_type: Some("blng__Invoice__c".into()),
                        record_id: Some("a1X5e00000Inv03EAB".into()),
                    },
                ],
            }
        );
    }

    #[test]
    fn events_one_per_notification() {
        let n = parse(&fixture("outbound-message-notification.xml")).unwrap();
        let events = events(&n);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id.as_deref(), Some("om:04l5e00000Ntf01AAB"));
        assert_eq!(events[0].kind, "outbound_message");
        assert!(events[0].changes.is_empty());
        assert_eq!(
            events[0].refetch,
            vec![ObjectRef::invoice("a1X5e00000Inv01EAB")]
        );
        assert_eq!(
            events[1].refetch,
            vec![ObjectRef::invoice("a1X5e00000Inv03EAB")]
        );
    }

    #[test]
    fn a_deleted_record_still_gives_an_event() {
        let body = r#"<Envelope><Body><notifications><OrganizationId>00D5e000000RlncEAC</OrganizationId>
            <Notification><Id>04l5e00000Ntf09AAB</Id><sObject xsi:type="sf:blng__Invoice__c"/></Notification>
            <Notification><Id>04l5e00000Ntf10AAB</Id></Notification>
            </notifications></Body></Envelope>"#;
        let n = parse(body.as_bytes()).unwrap();
        assert_eq!(n.action_id, None);
        assert_eq!(n.items[0].object_type.as_deref(), Some("blng__Invoice__c"));
        assert_eq!(n.items[0].record_id, None);
        assert_eq!(n.items[1].object_type, None);
        let events = events(&n);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id.as_deref(), Some("om:04l5e00000Ntf09AAB"));
        assert!(events[0].refetch.is_empty() && events[1].refetch.is_empty());
    }

    #[test]
    fn prefixes_and_escapes_are_tolerated() {
        let body = r#"<?xml version="1.0"?><!-- hi --><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
            <o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound">
            <o:OrganizationId> 00D5e000000&#x52;lncEAC </o:OrganizationId>
            <o:Notification><o:Id><![CDATA[04l5e00000Ntf01AAB]]></o:Id>
            <o:sObject xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="Invoice"><Id>3tt&amp;</Id></o:sObject>
            </o:Notification></o:notifications></S:Body></S:Envelope>"#;
        let n = parse(body.as_bytes()).unwrap();
        assert_eq!(n.organization_id, "00D5e000000RlncEAC");
        assert_eq!(n.items[0].id, "04l5e00000Ntf01AAB");
        assert_eq!(n.items[0].object_type.as_deref(), Some("Invoice"));
        assert_eq!(n.items[0].record_id.as_deref(), Some("3tt&"));
    }

    #[test]
    fn dtds_and_entities_are_refused() {
        let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Envelope><Body><notifications><OrganizationId>&xxe;</OrganizationId></notifications></Body></Envelope>"#;
        let e = parse(xxe.as_bytes()).unwrap_err();
        assert!(e.contains("DTD"), "{e}");
        let entity = message("&xxe;", 1);
        let e = parse(entity.as_bytes()).unwrap_err();
        assert!(e.contains("entity"), "{e}");
    }

    #[test]
    fn malformed_messages_are_refused() {
        let fixture = String::from_utf8(fixture("outbound-message-notification.xml")).unwrap();
        let cases: Vec<(String, &str)> = vec![
            (fixture[..fixture.len() / 2].to_string(), "malformed"),
            (fixture.replace("</Notification>", "</Notif>"), "malformed"),
            ("not xml at all".into(), "no notifications"),
            ("<a><b></a>".into(), "malformed"),
            ("<a><b>".into(), "truncated"),
            (
                fixture.replace("<OrganizationId>00D5e000000RlncEAC</OrganizationId>", ""),
                "no OrganizationId",
            ),
            (
                fixture.replace("<Id>04l5e00000Ntf02AAB</Id>", ""),
                "notification 2 has no Id",
            ),
            (
                fixture.replace("<Id>04l5e00000Ntf01AAB</Id>", "<Id> </Id>"),
                "notification 1 has no Id",
            ),
            (
                format!("<x>{}</x>", "<y>".repeat(40) + &"</y>".repeat(40)),
                "nested deeper",
            ),
        ];
        for (body, expected) in cases {
            let e = parse(body.as_bytes()).unwrap_err();
            assert!(e.contains(expected), "{expected:?} not in {e:?}");
        }
    }

    #[test]
    fn at_most_100_notifications() {
        let n = parse(message("00D5e000000RlncEAC", 100).as_bytes()).unwrap();
        assert_eq!(n.items.len(), 100);
        assert_eq!(n.items[99].record_id.as_deref(), Some("3tt5e00000S0099AAB"));
        let e = parse(message("00D5e000000RlncEAC", 101).as_bytes()).unwrap_err();
        assert!(e.contains("more than 100 notifications"), "{e}");
    }

    #[test]
    fn ack_is_the_fixture() {
        assert_eq!(
            ack(),
            String::from_utf8(fixture("outbound-message-ack.xml")).unwrap()
        );
        let reply = ack_reply();
        assert_eq!(
            (reply.status, reply.content_type),
            (200, "text/xml; charset=utf-8")
        );
    }

    #[test]
    fn fault_shape_and_escaping() {
        let f = fault("bad <OrganizationId> & \"quotes\"\u{1}");
        assert!(f.contains("<soapenv:Fault>"), "{f}");
        assert!(f.contains("<faultcode>soapenv:Client</faultcode>"), "{f}");
        assert!(
            f.contains(
                "<faultstring>bad &lt;OrganizationId&gt; &amp; &quot;quotes&quot; </faultstring>"
            ),
            "{f}"
        );
        // Well-formed, and the message reads back.
        let mut reader = Reader::from_str(&f);
        let mut faultstring = String::new();
        let mut inside = false;
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) => inside = e.local_name().as_ref() == b"faultstring",
                Event::Text(t) if inside => faultstring.push_str(&t.decode().unwrap()),
                Event::GeneralRef(r) if inside => faultstring.push(match r.as_ref() {
                    b"lt" => '<',
                    b"gt" => '>',
                    b"amp" => '&',
                    b"quot" => '"',
                    _ => '?',
                }),
                Event::End(_) => inside = false,
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(faultstring, "bad <OrganizationId> & \"quotes\" ");
        let reply = fault_reply(&WebhookError::WrongAccount("x".into()));
        assert_eq!(reply.status, 403);
        assert!(reply.body.contains("not for this connector: x"));
    }

    #[test]
    fn org_check() {
        let body = fixture("outbound-message-notification.xml");
        for configured in [
            "00D5e000000RlncEAC",
            "00d5E000000rLNCeac",
            "00D5e000000Rlnc",
            " 00D5e000000Rlnc ",
        ] {
            assert_eq!(
                OrgCheck::new(configured).check(&hook(&body), now()),
                Ok(()),
                "{configured}"
            );
        }
        // 15 characters are case-sensitive.
        let e = OrgCheck::new("00D5e000000RLNC")
            .check(&hook(&body), now())
            .unwrap_err();
        assert!(matches!(e, WebhookError::WrongAccount(_)), "{e:?}");
        let e = OrgCheck::new("00Dxx0000001gPLEAY")
            .check(&hook(&body), now())
            .unwrap_err();
        assert_eq!(
            e,
            WebhookError::WrongAccount(
                "Outbound Message from Salesforce org 00D5e000000RlncEAC, this connector is \
                 configured for org 00Dxx0000001gPLEAY"
                    .into()
            )
        );
        assert_eq!(e.status(), 403);
        // A message sent with the 15-character id.
        let short = message("00D5e000000Rlnc", 1);
        assert!(
            OrgCheck::new("00D5e000000RlncEAC")
                .check(&hook(short.as_bytes()), now())
                .is_ok()
        );
        // A hostile org id is not repeated.
        let hostile = message(&"<script>".replace('<', "&lt;").repeat(50), 1);
        let e = OrgCheck::new("00D5e000000RlncEAC")
            .check(&hook(hostile.as_bytes()), now())
            .unwrap_err();
        assert!(!e.to_string().contains("script"), "{e}");
        assert!(e.to_string().contains("an invalid id"), "{e}");
    }

    #[test]
    fn org_check_refuses_malformed_and_empty() {
        let check = OrgCheck::new("00D5e000000RlncEAC");
        for body in [&b""[..], b"  \n", b"<soapenv:Envelope", b"{\"json\":true}"] {
            let e = check.check(&hook(body), now()).unwrap_err();
            assert!(matches!(e, WebhookError::Malformed(_)), "{e:?}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn same_org_rules() {
        assert!(same_org("00D5e000000RlncEAC", "00D5E000000RLNCEAC"));
        assert!(same_org("00D5e000000Rlnc", "00D5e000000RlncEAC"));
        assert!(same_org("00D5e000000RlncEAC", "00D5e000000Rlnc"));
        assert!(!same_org("00D5e000000rlnc", "00D5e000000RlncEAC"));
        assert!(!same_org("00D5e000000Rlnc", "00D5e000000RlnC"));
        assert!(!same_org("", ""));
        assert!(!same_org("00D5e000000RlncEA", "00D5e000000RlncEA"));
        assert!(!same_org("00D5e000000Rl<c", "00D5e000000Rl<cEAC"));
    }
}
