//! Durations written like `30s`, `10m`, `2h`, `1d` (or a bare number of seconds).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `500ms`, `30s`, `10m`, `2h`, `1d`, or a number of seconds.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 10m, 2h, 1d)"))?;
    let seconds = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{s}` (use ms, s, m, h or d)"
            ));
        }
    };
    Ok(Duration::from_secs(n * seconds))
}

/// A duration field in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlDuration(pub Duration);

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a duration such as 30s, 10m, 2h or 1d")
        })? {
            Raw::Seconds(s) => Ok(YamlDuration(Duration::from_secs(s))),
            Raw::Text(t) => parse(&t)
                .map(YamlDuration)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("45").unwrap(), Duration::from_secs(45));
        assert!(parse("10 minutes").is_err());
        assert!(parse("m").is_err());
        assert!(parse("-5s").is_err());
    }
}
