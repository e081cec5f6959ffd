//! The OAuth 2.0 JWT bearer assertion Salesforce takes from a headless client: header
//! `{"alg":"RS256"}`, claims `iss` (consumer key), `sub` (username), `aud` (login, test or My
//! Domain URL) and `exp` (Unix seconds, three minutes ahead), each part base64url without
//! padding, signed RSASSA-PKCS1-v1_5 with SHA-256 (deterministic: the same key and claims always
//! give the same assertion).
//!
//! The key is the private half of the certificate the admin uploaded to the External Client
//! App. It is read once into `ring`'s key pair; neither the key nor any part of the PEM ever
//! appears in an error, a log line or `Debug`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject};
use serde::Serialize;

/// The grant type of the JWT bearer flow (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How far ahead of `now` the assertion expires. Salesforce accepts at most three minutes.
pub const LIFETIME: TimeDelta = TimeDelta::minutes(3);

/// `{"alg":"RS256"}`, base64url: the only header Salesforce accepts, so it is a constant.
const HEADER_B64: &str = "eyJhbGciOiJSUzI1NiJ9";

/// Signs JWT bearer assertions with an RSA private key.
pub struct JwtSigner {
    key: RsaKeyPair,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner")
            .field("key", &"<redacted>")
            .field("modulus_bits", &(self.key.public().modulus_len() * 8))
            .finish()
    }
}

/// The claims, serialised in this field order: `iss`, `sub`, `aud`, `exp`.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

impl JwtSigner {
    /// A signer from a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA
    /// PRIVATE KEY`), RSA of 2048 to 8192 bits. The first private key in the text is used.
    /// Errors say what is wrong without quoting the input.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| pem_error(&e, pem))?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(_) => {
                return Err(
                    "the private key is an EC (SEC1) key; Salesforce's JWT bearer flow \
                            needs an RSA key (RS256)"
                        .to_string(),
                );
            }
            _ => return Err("unsupported private key format; use a PKCS#8 RSA key".to_string()),
        }
        .map_err(|e| {
            format!(
                "the private key is not a usable RSA key ({e}); RS256 needs an RSA key of \
                 2048 to 8192 bits"
            )
        })?;
        Ok(JwtSigner { key })
    }

    /// A signer from a PEM file. Errors name the path, never the content.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the JWT private key {}: {e}", path.display()))?;
        Self::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The signed assertion for `client_id` (the consumer key) acting as `username`, for the
    /// `audience` (`https://login.salesforce.com`, `https://test.salesforce.com` or the My
    /// Domain URL), expiring three minutes after `now`.
    pub fn assertion(
        &self,
        client_id: &str,
        username: &str,
        audience: &str,
        now: DateTime<Utc>,
    ) -> String {
        let claims = Claims {
            iss: client_id,
            sub: username,
            aud: audience,
            exp: (now + LIFETIME).timestamp(),
        };
        let claims = serde_json::to_vec(&claims).expect("claims of strings and an integer");
        let mut token = String::with_capacity(HEADER_B64.len() + claims.len() * 2 + 400);
        token.push_str(HEADER_B64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let mut signature = vec![0; self.key.public().modulus_len()];
        // PKCS#1 v1.5 padding draws nothing from `rng` and the buffer has the modulus length,
        // which are the only ways `sign` fails.
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .expect("RSA PKCS#1 v1.5 signing with a buffer of the modulus length");
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        token
    }
}

/// The form to POST to `{login}/services/oauth2/token`: `grant_type` and `assertion` (no client
/// secret in this flow).
pub fn token_form(assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", GRANT_TYPE.to_string()),
        ("assertion", assertion.to_string()),
    ]
}

/// Describes a PEM error without echoing any line of the input.
fn pem_error(e: &pem::Error, input: &[u8]) -> String {
    let encrypted = input
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY");
    match e {
        pem::Error::NoItemsFound if encrypted => "the private key is encrypted; give Relance an \
             unencrypted PKCS#8 key (openssl pkcs8 -topk8 -nocrypt)"
            .to_string(),
        pem::Error::NoItemsFound => "no private key found in the PEM text (expected \
             -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
            .to_string(),
        pem::Error::MissingSectionEnd { .. } => {
            "the PEM private key is truncated (no END line)".to_string()
        }
        pem::Error::IllegalSectionStart { .. } => {
            "the PEM text has a malformed BEGIN line".to_string()
        }
        pem::Error::Base64Decode(_) => "the PEM private key is not valid base64".to_string(),
        pem::Error::SectionTooLarge => "the PEM section is too large".to_string(),
        _ => "the PEM private key cannot be read".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use rustls_pki_types::CertificateDer;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/salesforce/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn vector() -> serde_json::Value {
        serde_json::from_slice(&fixture("jwt-assertion-decoded.json")).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T09:00:00Z".parse().unwrap()
    }

    fn signer() -> JwtSigner {
        JwtSigner::from_pem(&fixture("jwt-test-private-key.pem")).unwrap()
    }

    fn sign_fixture_claims() -> String {
        let v = vector();
        let c = &v["claims"];
        signer().assertion(
            c["iss"].as_str().unwrap(),
            c["sub"].as_str().unwrap(),
            c["aud"].as_str().unwrap(),
            now(),
        )
    }

    #[test]
    fn the_signing_vector_byte_for_byte() {
        let v = vector();
        assert_eq!(v["claims"]["exp"], 1795510980);
        assert_eq!((now() + LIFETIME).timestamp(), 1795510980);
        let expected = format!(
            "{}.{}",
            v["signing_input"].as_str().unwrap(),
            v["signature_b64url"].as_str().unwrap()
        );
        let assertion = sign_fixture_claims();
        assert_eq!(assertion, expected);
        let file = String::from_utf8(fixture("jwt-assertion.txt")).unwrap();
        assert_eq!(assertion, file.trim());
        // The header part is the constant.
        let header = URL_SAFE_NO_PAD.decode(HEADER_B64).unwrap();
        assert_eq!(header, br#"{"alg":"RS256"}"#);
    }

    #[test]
    fn the_claims_are_compact_and_in_order() {
        let assertion = sign_fixture_claims();
        let claims = assertion.split('.').nth(1).unwrap();
        let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert!(
            claims.starts_with(r#"{"iss":"3MVG9RelanceTEST"#),
            "{claims}"
        );
        assert!(
            claims.ends_with(
                r#","sub":"relance.integration@example-acme.com","aud":"https://login.salesforce.com","exp":1795510980}"#
            ),
            "{claims}"
        );
    }

    /// Minimal DER walking, enough to take the SubjectPublicKeyInfo out of the test certificate.
    fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, header) = match input[1] {
            n if n < 0x80 => (n as usize, 2),
            n => {
                let count = (n & 0x7f) as usize;
                let len = input[2..2 + count]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | *b as usize);
                (len, 2 + count)
            }
        };
        (tag, &input[header..header + len], &input[header + len..])
    }

    fn rsa_public_key_from_cert(cert: &[u8]) -> Vec<u8> {
        let (tag, certificate, _) = der_tlv(cert);
        assert_eq!(tag, 0x30);
        let (tag, mut tbs, _) = der_tlv(certificate);
        assert_eq!(tag, 0x30);
        // version [0] (optional), serial, signature, issuer, validity, subject, then SPKI.
        if tbs[0] == 0xa0 {
            tbs = der_tlv(tbs).2;
        }
        for _ in 0..5 {
            tbs = der_tlv(tbs).2;
        }
        let (tag, spki, _) = der_tlv(tbs);
        assert_eq!(tag, 0x30);
        let (_, _algorithm, rest) = der_tlv(spki);
        let (tag, bits, _) = der_tlv(rest);
        assert_eq!(tag, 0x03);
        assert_eq!(bits[0], 0, "no unused bits");
        bits[1..].to_vec()
    }

    #[test]
    fn the_certificate_verifies_the_signature() {
        let cert = CertificateDer::from_pem_slice(&fixture("jwt-test-cert.pem")).unwrap();
        let public = rsa_public_key_from_cert(&cert);
        assert_eq!(
            public,
            signer().key.public().as_ref(),
            "cert matches the key"
        );
        let assertion = sign_fixture_claims();
        let (input, signature) = assertion.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public);
        key.verify(input.as_bytes(), &signature).unwrap();
        assert!(key.verify(b"tampered", &signature).is_err());
    }

    #[test]
    fn pkcs1_keys_are_accepted_too() {
        // Re-wrap the PKCS#8 key's inner RSAPrivateKey as a PKCS#1 PEM.
        let pem = fixture("jwt-test-private-key.pem");
        let PrivateKeyDer::Pkcs8(pkcs8) = PrivateKeyDer::from_pem_slice(&pem).unwrap() else {
            panic!("fixture is PKCS#8")
        };
        let (_, info, _) = der_tlv(pkcs8.secret_pkcs8_der());
        let (_, _, rest) = der_tlv(info); // version
        let (_, _, rest) = der_tlv(rest); // algorithm
        let (tag, pkcs1, _) = der_tlv(rest);
        assert_eq!(tag, 0x04);
        let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs1);
        let mut text = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
        text.push_str("-----END RSA PRIVATE KEY-----\n");
        let v = vector();
        let c = &v["claims"];
        let assertion = JwtSigner::from_pem(text.as_bytes()).unwrap().assertion(
            c["iss"].as_str().unwrap(),
            c["sub"].as_str().unwrap(),
            c["aud"].as_str().unwrap(),
            now(),
        );
        assert_eq!(assertion, sign_fixture_claims());
    }

    #[test]
    fn errors_and_debug_never_show_the_key() {
        let pem = String::from_utf8(fixture("jwt-test-private-key.pem")).unwrap();
        let secret_line = pem.lines().nth(1).unwrap().to_string();

        let debug = format!("{:?}", signer());
        assert!(
            debug.contains("<redacted>") && debug.contains("2048"),
            "{debug}"
        );
        assert!(!debug.contains(&secret_line[..20]));

        let cert = String::from_utf8(fixture("jwt-test-cert.pem")).unwrap();
        let e = JwtSigner::from_pem(cert.as_bytes()).unwrap_err();
        assert!(e.contains("no private key found"), "{e}");

        let truncated: String = pem.lines().take(5).collect::<Vec<_>>().join("\n");
        let e = JwtSigner::from_pem(truncated.as_bytes()).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        assert!(!e.contains(&secret_line[..20]), "{e}");

        let garbled = pem.replacen(&secret_line, &secret_line.replace('A', "!"), 1);
        let e = JwtSigner::from_pem(garbled.as_bytes()).unwrap_err();
        assert!(!e.contains(&secret_line[..20]), "{e}");

        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = JwtSigner::from_pem(encrypted.as_bytes()).unwrap_err();
        assert!(e.contains("encrypted"), "{e}");

        let not_rsa = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
        let e = JwtSigner::from_pem(not_rsa.as_bytes()).unwrap_err();
        assert!(e.contains("not a usable RSA key"), "{e}");
    }

    #[test]
    fn from_file_names_the_path() {
        let path = format!(
            "{}/../../tests/fixtures/salesforce/jwt-test-private-key.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(JwtSigner::from_file(&path).is_ok());
        let e = JwtSigner::from_file("/nonexistent/relance-jwt.pem").unwrap_err();
        assert!(e.contains("/nonexistent/relance-jwt.pem"), "{e}");
        let cert = path.replace("jwt-test-private-key.pem", "jwt-test-cert.pem");
        let e = JwtSigner::from_file(&cert).unwrap_err();
        assert!(
            e.contains("jwt-test-cert.pem") && e.contains("no private key"),
            "{e}"
        );
    }

    #[test]
    fn the_token_form() {
        let form = token_form("a.b.c");
        assert_eq!(
            form,
            vec![
                ("grant_type", GRANT_TYPE.to_string()),
                ("assertion", "a.b.c".to_string())
            ]
        );
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(token_form(&sign_fixture_claims()))
            .finish();
        assert_eq!(body, vector()["token_request_body"].as_str().unwrap());
    }
}
