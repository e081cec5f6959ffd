//! `relance late-fees`, the standalone calculator, as a finance admin runs it: no
//! configuration file, no database.

use serde_json::Value;

use crate::common::{relance, run, stderr, stdout};

/// Runs `relance late-fees ARGS` in an empty folder (no `relance.yaml` there).
async fn late_fees(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["late-fees"];
    all.extend_from_slice(args);
    let mut cmd = relance(&all);
    cmd.current_dir(dir.path());
    run(cmd).await
}

#[tokio::test]
async fn late_fees_prints_each_period_and_the_total_without_a_config() {
    // 17 days on 1234.56 and 29 days on 734.56 at 14.50 % (2024-S1: ECB 4.50 + 10):
    // (1234.56 × 14.5 × 17 + 734.56 × 14.5 × 29) / 36500 = 16.8000 → 16.80; + 40 + 734.56.
    let out = late_fees(&[
        "--amount",
        "1234.56",
        "--due",
        "2024-01-15",
        "--at",
        "2024-03-01",
        "--payment",
        "2024-02-01=500.00",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "2024-01-16  2024-02-01     17    14.50       1234.56",
        "2024-02-02  2024-03-01     29    14.50        734.56",
        "16.80 EUR",
        "40.00 EUR",
        "791.36 EUR",
        "L441-10",
        "D441-5",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
}

#[tokio::test]
async fn late_fees_json_has_the_contract_keys() {
    // Contract 12.5 %: raised to 3 × 4.92 = 14.76 in 2024-S2 (16 days), applies in 2025-S1
    // (floor 11.13; 31 days): (4000 × 14.76 × 16 + 4000 × 12.5 × 31) / 36500 = 68.3463 → 68.35.
    let out = late_fees(&[
        "--amount",
        "4000.00",
        "--due",
        "2024-12-15",
        "--at",
        "2025-01-31",
        "--rate",
        "12.5",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(v["principal"], "4000.00");
    assert_eq!(v["interest"], "68.35");
    assert_eq!(v["indemnity"], "40.00");
    assert_eq!(v["total"], "4108.35");
    let periods = v["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[0]["from"], "2024-12-16");
    assert_eq!(periods[0]["to"], "2024-12-31");
    assert_eq!(periods[0]["days"], 16);
    assert_eq!(periods[0]["rate"], "14.76");
    assert_eq!(periods[0]["balance"], "4000.00");
    assert_eq!(periods[0]["interest"], "25.88"); // 4000 × 14.76 × 16 / 36500 = 25.8805
    assert_eq!(periods[1]["rate"], "12.50");
    assert_eq!(periods[1]["interest"], "42.47"); // 4000 × 12.5 × 31 / 36500 = 42.4658

    // B2C without a notice: no interest, no indemnity, and a reason.
    let out = late_fees(&[
        "--amount",
        "1000",
        "--due",
        "2025-05-15",
        "--at",
        "2025-07-20",
        "--customer-kind",
        "b2c",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["interest"], "0.00");
    assert_eq!(v["indemnity"], "0.00");
    assert_eq!(v["total"], "1000.00");
    assert!(v["notes"].to_string().contains("formal notice"), "{v}");
}

#[tokio::test]
async fn late_fees_missing_half_year_fails_naming_it() {
    let out = late_fees(&[
        "--amount",
        "1000",
        "--due",
        "2026-06-15",
        "--at",
        "2026-07-10",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("2026-S2"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    // An override table with the row makes it computable.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rates.csv");
    std::fs::write(
        &path,
        "period,ecb_mro_rate,fr_b2b_penalty_rate,legal_rate_professional,legal_rate_consumer\n\
         2026-S1,2.15,12.15,2.62,6.67\n2026-S2,2.00,12.00,2.50,6.50\n",
    )
    .unwrap();
    let out = late_fees(&[
        "--amount",
        "1000",
        "--due",
        "2026-06-15",
        "--at",
        "2026-07-10",
        "--format",
        "json",
        "--rates-file",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // (1000 × 12.15 × 15 + 1000 × 12 × 10) / 36500 = 8.2808 → 8.28.
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["interest"], "8.28");
}
