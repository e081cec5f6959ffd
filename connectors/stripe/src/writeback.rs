//! Write-back: Relance's activity recorded in the invoice's metadata (seen in the Dashboard).

use relance_core::Activity;

use crate::map::WRITE_BACK_KEY_PREFIX;

/// Longest metadata value Stripe accepts.
const MAX_VALUE: usize = 500;
/// Longest idempotency key Stripe accepts.
const MAX_KEY: usize = 255;

fn cut(value: String) -> String {
    match value.char_indices().nth(MAX_VALUE) {
        Some((i, _)) => value[..i].to_string(),
        None => value,
    }
}

/// The form body of `POST /v1/invoices/{id}`: only `relance_*` keys, so the merchant's own
/// metadata is untouched (an empty `metadata=` would erase it all: never sent).
pub fn form(activity: &Activity) -> Vec<(String, String)> {
    vec![
        (
            "metadata[relance_last_step]".to_string(),
            cut(activity.step.clone()),
        ),
        (
            "metadata[relance_last_sent_at]".to_string(),
            activity
                .sent_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        (
            "metadata[relance_reminders]".to_string(),
            activity.reminders_sent.to_string(),
        ),
    ]
}

/// The `Idempotency-Key` for a write-back, recognisable in the `invoice.updated` it causes.
pub fn idempotency_key(key: &str) -> String {
    let mut k = format!("{WRITE_BACK_KEY_PREFIX}{key}");
    k.truncate(MAX_KEY);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_has_the_three_relance_keys_only() {
        let a = Activity {
            step: "friendly".into(),
            channel: "email".into(),
            sent_at: "2027-01-15T09:00:00Z".parse().unwrap(),
            reminders_sent: 2,
            amount: None,
            summary: "x".into(),
        };
        let body = serde_urlencoded_like(&form(&a));
        assert_eq!(
            body,
            "metadata[relance_last_step]=friendly&metadata[relance_last_sent_at]=2027-01-15T09:00:00Z&metadata[relance_reminders]=2"
        );
        assert!(idempotency_key("wb:1").starts_with("relance-wb-"));
        assert_eq!(idempotency_key(&"x".repeat(400)).len(), 255);
    }

    fn serde_urlencoded_like(pairs: &[(String, String)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}
