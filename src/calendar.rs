//! Business days and send windows: French public holidays (Code du travail, L3133-1, with the
//! two extra days of Alsace-Moselle), the days of the week and the local hours in which
//! messages may go out, and the first instant at which one may.
//!
//! Pure: no I/O and no clock. Instants are UTC; the local time zone is a parameter, so
//! daylight-saving changes (gaps and folds) are handled here and nowhere else.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

/// How far [`Calendar::next_business_day`] and [`Calendar::next_send_instant`] look ahead
/// before giving up. A usable calendar always has a business day well within it (public
/// holidays never cover more than two days in a row).
const SEARCH_DAYS: i64 = 31;

/// Which public holidays apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holidays {
    /// The public holidays of metropolitan France (Code du travail, L3133-1).
    Fr,
    /// France plus Good Friday and 26 December (Bas-Rhin, Haut-Rhin, Moselle).
    FrAlsaceMoselle,
    /// No public holidays: only the days of the send window count.
    None,
}

impl Holidays {
    /// Parses `FR`, `FR-alsace-moselle` or `none` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" => Ok(Holidays::Fr),
            "fr-alsace-moselle" => Ok(Holidays::FrAlsaceMoselle),
            "none" => Ok(Holidays::None),
            _ => Err(format!(
                "unknown holidays {s:?}: expected FR, FR-alsace-moselle or none"
            )),
        }
    }

    /// The canonical spelling, as accepted by [`Holidays::parse`].
    pub fn as_str(&self) -> &'static str {
        match self {
            Holidays::Fr => "FR",
            Holidays::FrAlsaceMoselle => "FR-alsace-moselle",
            Holidays::None => "none",
        }
    }
}

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous algorithm, as given by
/// Meeus). Meaningful from 1583, when the Gregorian calendar began.
///
/// # Panics
///
/// When `year` is outside the range of [`NaiveDate`] (about ±262,000).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let (d, e) = (b.div_euclid(4), b.rem_euclid(4));
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let (month, day) = (n / 31, n % 31 + 1);
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
        .unwrap_or_else(|| panic!("Easter of year {year} is outside the supported dates"))
}

/// The public holidays of `year`, sorted by date, each with its French name.
///
/// Whit Monday (Lundi de Pentecôte) is included: it is a legal public holiday even though many
/// firms work it as the « journée de solidarité ». When two holidays fall on the same day
/// (Ascension on 1 or 8 May, as in 2008), both are listed, the fixed-date one first.
pub fn holidays_of(year: i32, holidays: Holidays) -> Vec<(NaiveDate, &'static str)> {
    if holidays == Holidays::None {
        return Vec::new();
    }
    let fixed = |month: u32, day: u32| {
        NaiveDate::from_ymd_opt(year, month, day).expect("a fixed holiday is a valid date")
    };
    let easter = easter_sunday(year);
    let mut list = vec![
        (fixed(1, 1), "Jour de l'an"),
        (fixed(5, 1), "Fête du travail"),
        (fixed(5, 8), "Victoire 1945"),
        (fixed(7, 14), "Fête nationale"),
        (fixed(8, 15), "Assomption"),
        (fixed(11, 1), "Toussaint"),
        (fixed(11, 11), "Armistice"),
        (fixed(12, 25), "Noël"),
        (easter + Duration::days(1), "Lundi de Pâques"),
        (easter + Duration::days(39), "Ascension"),
        (easter + Duration::days(50), "Lundi de Pentecôte"),
    ];
    if holidays == Holidays::FrAlsaceMoselle {
        list.push((fixed(12, 26), "Saint-Étienne"));
        list.push((easter - Duration::days(2), "Vendredi saint"));
    }
    // Stable: on a shared date the fixed-date holiday, pushed first, stays first.
    list.sort_by_key(|(date, _)| *date);
    list
}

/// The French name of the public holiday on `date`, if it is one.
pub fn is_holiday(date: NaiveDate, holidays: Holidays) -> Option<&'static str> {
    holidays_of(date.year(), holidays)
        .into_iter()
        .find(|(d, _)| *d == date)
        .map(|(_, name)| name)
}

/// Days of the week on which messages may go out, and the hours (local time).
///
/// The window is `[from, to)` on each day: `from` included, `to` excluded, both on the same
/// local day (a window across midnight is not supported: `from < to` is required, see
/// [`Calendar::validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Days of the week on which messages may go out.
    pub days: Vec<Weekday>,
    /// First local time of the day at which a message may go out (included).
    pub from: NaiveTime,
    /// Local time from which messages no longer go out (excluded).
    pub to: NaiveTime,
}

impl SendWindow {
    /// Monday to Friday, 09:00 to 17:30.
    pub fn office_hours() -> Self {
        SendWindow {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            from: NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time"),
            to: NaiveTime::from_hms_opt(17, 30, 0).expect("17:30 is a time"),
        }
    }

    /// Parses day names `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun` (case-insensitive).
    /// An empty list, an unknown name or a day listed twice is an error.
    pub fn parse_days(list: &[String]) -> Result<Vec<Weekday>, String> {
        const NAMES: [(&str, Weekday); 7] = [
            ("mon", Weekday::Mon),
            ("tue", Weekday::Tue),
            ("wed", Weekday::Wed),
            ("thu", Weekday::Thu),
            ("fri", Weekday::Fri),
            ("sat", Weekday::Sat),
            ("sun", Weekday::Sun),
        ];
        if list.is_empty() {
            return Err("no days given: messages could never go out".into());
        }
        let mut days = Vec::with_capacity(list.len());
        for name in list {
            let day = NAMES
                .iter()
                .find(|(n, _)| name.trim().eq_ignore_ascii_case(n))
                .map(|(_, d)| *d)
                .ok_or_else(|| {
                    format!("unknown day {name:?}: expected mon, tue, wed, thu, fri, sat or sun")
                })?;
            if days.contains(&day) {
                return Err(format!("day {name:?} is listed twice"));
            }
            days.push(day);
        }
        Ok(days)
    }
}

/// When messages may go out: the public holidays that apply and the weekly send window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Public holidays, on which nothing goes out.
    pub holidays: Holidays,
    /// Days of the week and local hours.
    pub window: SendWindow,
}

impl Calendar {
    /// Every day a business day, all day (no holidays, no window): what policy v1 did.
    pub fn every_day() -> Self {
        Calendar {
            holidays: Holidays::None,
            window: SendWindow {
                days: vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ],
                from: NaiveTime::MIN,
                to: NaiveTime::from_hms_opt(23, 59, 59).expect("a time"),
            },
        }
    }

    /// Checks that some instant is ever inside the window: at least one day, and `from`
    /// before `to`. A calendar that fails this makes [`Calendar::next_business_day`] and
    /// [`Calendar::next_send_instant`] fall back to "one day later".
    pub fn validate(&self) -> Result<(), String> {
        if self.window.days.is_empty() {
            return Err("the send window has no days: messages could never go out".into());
        }
        if self.window.from >= self.window.to {
            return Err(format!(
                "the send window starts at {} but ends at {}: it must start before it ends \
                 (windows across midnight are not supported)",
                self.window.from, self.window.to
            ));
        }
        Ok(())
    }

    /// True when `date` is one of the window's days and not a public holiday.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        self.window.days.contains(&date.weekday()) && is_holiday(date, self.holidays).is_none()
    }

    /// `date` itself if it is a business day, else the next one.
    ///
    /// Looks at most 31 days ahead; if none is found there (no days in the window), returns
    /// `date + 1` so that a caller stepping day by day never loops forever on one date.
    pub fn next_business_day(&self, date: NaiveDate) -> NaiveDate {
        (0..=SEARCH_DAYS)
            .map(|n| date + Duration::days(n))
            .find(|d| self.is_business_day(*d))
            .unwrap_or(date + Duration::days(1))
    }

    /// True when `at` is inside the window: on a business day in time zone `tz`, with the local
    /// time at or after `from` and before `to`.
    pub fn in_window(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let time = local.time();
        self.window.from <= time
            && time < self.window.to
            && self.is_business_day(local.date_naive())
    }

    /// The first instant at or after `at` that is inside the window in time zone `tz` on a
    /// business day: `at` itself when it already is.
    ///
    /// Daylight-saving changes: when the local `from` does not exist that day (a gap), the
    /// first instant after it is taken (the end of the gap, e.g. 03:00 in Paris on the last
    /// Sunday of March); if the whole window falls in the gap, that day has no window. When the
    /// local `from` occurs twice (a fold), the earliest occurrence not before `at` is taken.
    ///
    /// Looks at most 31 days ahead; if the window is never open there (see
    /// [`Calendar::validate`]), returns `at + 1 day` so that callers retry later rather than
    /// send outside the window or loop.
    pub fn next_send_instant(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.in_window(at, tz) {
            return at;
        }
        // The window opens only where the local time reaches `from` or where the UTC offset
        // changes (a gap jumping over `from`, a fold jumping back into the window): those
        // instants are the only candidates. Search them one UTC day at a time, in order.
        let start = at.with_nanosecond(0).expect("0 ns is valid");
        for n in 0..=SEARCH_DAYS {
            let lo = start + Duration::days(n);
            let hi = lo + Duration::days(1);
            let mut candidates = offset_changes(lo, hi, tz);
            let (first, last) = (local_date(lo, tz), local_date(hi, tz));
            let mut day = first - Duration::days(1);
            while day <= last + Duration::days(1) {
                match tz.from_local_datetime(&day.and_time(self.window.from)) {
                    LocalResult::Single(t) => candidates.push(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, b) => {
                        candidates.push(a.with_timezone(&Utc));
                        candidates.push(b.with_timezone(&Utc));
                    }
                    LocalResult::None => {}
                }
                day += Duration::days(1);
            }
            candidates.retain(|t| lo <= *t && *t < hi && *t >= at);
            candidates.sort();
            if let Some(t) = candidates.into_iter().find(|t| self.in_window(*t, tz)) {
                return t;
            }
        }
        at + Duration::days(1)
    }
}

/// The local date of `at` in `tz`.
fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The UTC offset of `tz` at `at`.
fn offset_at(at: DateTime<Utc>, tz: Tz) -> FixedOffset {
    tz.offset_from_utc_datetime(&at.naive_utc()).fix()
}

/// The instants in `(lo, hi]` at which the UTC offset of `tz` changes, to the second.
/// Checked every 6 hours, which assumes no two changes are closer than that (none are).
fn offset_changes(lo: DateTime<Utc>, hi: DateTime<Utc>, tz: Tz) -> Vec<DateTime<Utc>> {
    let step = Duration::hours(6);
    let mut changes = Vec::new();
    let mut a = lo;
    while a < hi {
        let b = (a + step).min(hi);
        if offset_at(a, tz) != offset_at(b, tz) {
            // Invariant: offset(x) == offset(a) and offset(y) != offset(a).
            let before = offset_at(a, tz);
            // In whole seconds: `lo` has none, and offsets change on a second.
            let (mut x, mut y) = (a.timestamp(), b.timestamp());
            let instant = |s: i64| DateTime::from_timestamp(s, 0).expect("between a and b");
            while y - x > 1 {
                let mid = x + (y - x) / 2;
                if offset_at(instant(mid), tz) == before {
                    x = mid;
                } else {
                    y = mid;
                }
            }
            changes.push(instant(y));
        }
        a = b;
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn t(s: &str) -> NaiveTime {
        s.parse().unwrap()
    }

    /// A UTC instant from `2026-03-23T07:00:00Z`.
    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The UTC instant of a Paris wall-clock time that exists once.
    fn paris(s: &str) -> DateTime<Utc> {
        let naive: chrono::NaiveDateTime = s.parse().unwrap();
        Paris
            .from_local_datetime(&naive)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn office(holidays: Holidays) -> Calendar {
        Calendar {
            holidays,
            window: SendWindow::office_hours(),
        }
    }

    /// Every day of the week, between `from` and `to`: to put windows on DST nights.
    fn every_day(from: &str, to: &str) -> Calendar {
        Calendar {
            holidays: Holidays::None,
            window: SendWindow {
                days: vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ],
                from: t(from),
                to: t(to),
            },
        }
    }

    #[test]
    fn easter_sunday_matches_published_dates() {
        // (year, Easter Sunday, why)
        let cases = [
            (2024, "2024-03-31", "in March"),
            (2025, "2025-04-20", "late April"),
            (2026, "2026-04-05", "the year most tests use"),
            (2027, "2027-03-28", "Good Friday in March"),
            (2028, "2028-04-16", "leap year"),
            (2038, "2038-04-25", "the latest possible date"),
            (2285, "2285-03-22", "the earliest possible date"),
            (2000, "2000-04-23", "century divisible by 400"),
            (1900, "1900-04-15", "century not divisible by 400"),
        ];
        for (year, expected, why) in cases {
            assert_eq!(easter_sunday(year), d(expected), "{year}: {why}");
        }
    }

    #[test]
    fn movable_and_regional_holidays() {
        // (date, holidays, expected name, why)
        let cases = [
            (
                "2026-05-14",
                Holidays::Fr,
                Some("Ascension"),
                "Easter 2026 + 39",
            ),
            (
                "2026-04-06",
                Holidays::Fr,
                Some("Lundi de Pâques"),
                "Easter 2026 + 1",
            ),
            (
                "2027-05-17",
                Holidays::Fr,
                Some("Lundi de Pentecôte"),
                "Easter 2027 + 50",
            ),
            (
                "2027-03-26",
                Holidays::Fr,
                None,
                "Good Friday is not national",
            ),
            (
                "2027-03-26",
                Holidays::FrAlsaceMoselle,
                Some("Vendredi saint"),
                "Easter 2027 - 2",
            ),
            (
                "2026-12-26",
                Holidays::Fr,
                None,
                "26 December is not national",
            ),
            (
                "2026-12-26",
                Holidays::FrAlsaceMoselle,
                Some("Saint-Étienne"),
                "regional",
            ),
            (
                "2026-12-25",
                Holidays::FrAlsaceMoselle,
                Some("Noël"),
                "regional keeps national",
            ),
            (
                "2027-05-08",
                Holidays::Fr,
                Some("Victoire 1945"),
                "holiday on a Saturday",
            ),
            ("2026-07-14", Holidays::None, None, "no holidays at all"),
            ("2026-07-15", Holidays::Fr, None, "an ordinary day"),
            (
                "2008-05-01",
                Holidays::Fr,
                Some("Fête du travail"),
                "Ascension the same day",
            ),
        ];
        for (date, holidays, expected, why) in cases {
            assert_eq!(
                is_holiday(d(date), holidays),
                expected,
                "{date} {holidays:?}: {why}"
            );
        }
    }

    #[test]
    fn holidays_of_a_year_are_sorted_and_complete() {
        let fr = holidays_of(2026, Holidays::Fr);
        let am = holidays_of(2026, Holidays::FrAlsaceMoselle);
        // Eleven legal days nationally, two more in Alsace-Moselle, none without holidays.
        assert_eq!(fr.len(), 11);
        assert_eq!(am.len(), 13);
        assert!(holidays_of(2026, Holidays::None).is_empty());
        assert!(fr.windows(2).all(|w| w[0].0 <= w[1].0), "{fr:?}");
        assert!(am.windows(2).all(|w| w[0].0 <= w[1].0), "{am:?}");
        assert_eq!(fr[0], (d("2026-01-01"), "Jour de l'an"));
        assert_eq!(am[1], (d("2026-04-03"), "Vendredi saint"));
        assert_eq!(am[12], (d("2026-12-26"), "Saint-Étienne"));
    }

    #[test]
    fn holidays_parse_and_spell() {
        // (input, expected, why)
        let cases = [
            ("FR", Ok(Holidays::Fr), "canonical"),
            ("fr", Ok(Holidays::Fr), "case-insensitive"),
            (
                "FR-alsace-moselle",
                Ok(Holidays::FrAlsaceMoselle),
                "canonical",
            ),
            (
                "fr-ALSACE-moselle",
                Ok(Holidays::FrAlsaceMoselle),
                "case-insensitive",
            ),
            ("None", Ok(Holidays::None), "case-insensitive"),
            ("BE", Err(()), "not supported"),
            ("", Err(()), "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(
                Holidays::parse(input).map_err(|_| ()),
                expected,
                "{input:?}: {why}"
            );
        }
        for h in [Holidays::Fr, Holidays::FrAlsaceMoselle, Holidays::None] {
            // The spelling round-trips.
            assert_eq!(Holidays::parse(h.as_str()), Ok(h));
        }
        let err = Holidays::parse("BE").unwrap_err();
        assert!(
            err.contains("\"BE\"") && err.contains("FR-alsace-moselle"),
            "{err}"
        );
    }

    #[test]
    fn parse_days() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            SendWindow::parse_days(&s(&["mon", "Tue", "SUN"])),
            Ok(vec![Weekday::Mon, Weekday::Tue, Weekday::Sun])
        );
        // (input, part of the error, why)
        let errors = [
            (s(&[]), "no days", "never sending is a mistake"),
            (
                s(&["mon", "monday"]),
                "\"monday\"",
                "only three-letter names",
            ),
            (s(&["lun"]), "expected mon", "French names are not accepted"),
            (s(&["fri", "fri"]), "twice", "a duplicate is likely a typo"),
        ];
        for (input, part, why) in errors {
            let err = SendWindow::parse_days(&input).unwrap_err();
            assert!(err.contains(part), "{input:?}: {why}: {err}");
        }
    }

    #[test]
    fn weekday_facts_used_below() {
        // The weekdays the next tests rely on, checked rather than assumed.
        let cases = [
            ("2026-05-01", Weekday::Fri),
            ("2026-05-14", Weekday::Thu),
            ("2027-05-08", Weekday::Sat),
            ("2027-12-24", Weekday::Fri),
            ("2027-12-25", Weekday::Sat),
            ("2027-12-26", Weekday::Sun),
            ("2025-12-25", Weekday::Thu),
            ("2025-12-26", Weekday::Fri),
            ("2026-03-23", Weekday::Mon),
            ("2026-03-29", Weekday::Sun),
            ("2026-10-25", Weekday::Sun),
        ];
        for (date, weekday) in cases {
            assert_eq!(d(date).weekday(), weekday, "{date}");
        }
    }

    #[test]
    fn business_days() {
        let fr = office(Holidays::Fr);
        let am = office(Holidays::FrAlsaceMoselle);
        // (calendar, date, expected next business day, why)
        let cases = [
            (&fr, "2026-03-23", "2026-03-23", "a Monday is one itself"),
            (&fr, "2026-03-28", "2026-03-30", "Saturday → Monday"),
            (&fr, "2026-05-01", "2026-05-04", "Friday 1 May → Monday"),
            (&fr, "2026-05-14", "2026-05-15", "Ascension → Friday"),
            (
                &fr,
                "2027-05-08",
                "2027-05-10",
                "8 May on a Saturday: weekend anyway",
            ),
            (
                &am,
                "2027-12-24",
                "2027-12-24",
                "24 December is not a holiday",
            ),
            (
                &am,
                "2027-12-25",
                "2027-12-27",
                "Noël Sat, Saint-Étienne Sun",
            ),
            (
                &fr,
                "2025-12-25",
                "2025-12-26",
                "Noël Thursday → Friday nationally",
            ),
            (
                &am,
                "2025-12-25",
                "2025-12-29",
                "Friday 26 is Saint-Étienne",
            ),
            (
                &fr,
                "2027-03-26",
                "2027-03-26",
                "Good Friday is worked nationally",
            ),
            (
                &am,
                "2027-03-26",
                "2027-03-30",
                "Good Friday, weekend, Easter Monday",
            ),
        ];
        for (cal, date, expected, why) in cases {
            assert_eq!(cal.next_business_day(d(date)), d(expected), "{date}: {why}");
        }
        assert!(!fr.is_business_day(d("2027-05-08")));
        assert!(is_holiday(d("2027-05-08"), Holidays::Fr).is_some());
    }

    #[test]
    fn no_days_never_loops() {
        let mut cal = office(Holidays::Fr);
        cal.window.days.clear();
        // Documented fallback: one day later, for the day-by-day caller to move on.
        assert_eq!(cal.next_business_day(d("2026-03-23")), d("2026-03-24"));
        let at = utc("2026-03-23T07:00:00Z");
        assert_eq!(cal.next_send_instant(at, Paris), at + Duration::days(1));
        assert!(cal.validate().is_err());
        let backwards = every_day("18:00", "09:00");
        assert_eq!(
            backwards.next_send_instant(at, Paris),
            at + Duration::days(1)
        );
        assert!(backwards.validate().unwrap_err().contains("18:00"));
        assert_eq!(office(Holidays::Fr).validate(), Ok(()));
    }

    #[test]
    fn utc_offset_of_paris_office_hours_follows_dst() {
        // 09:00 in Paris is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
        assert_eq!(paris("2026-03-23T09:00:00"), utc("2026-03-23T08:00:00Z"));
        assert_eq!(paris("2026-03-30T09:00:00"), utc("2026-03-30T07:00:00Z"));
    }

    #[test]
    fn next_send_instant_in_paris_office_hours() {
        let fr = office(Holidays::Fr);
        // (at, expected, why)
        let cases = [
            (
                "2026-03-23T08:00:00",
                "2026-03-23T09:00:00",
                "Monday before opening",
            ),
            (
                "2026-03-23T09:00:00",
                "2026-03-23T09:00:00",
                "at opening: already inside",
            ),
            (
                "2026-03-24T10:17:42",
                "2026-03-24T10:17:42",
                "inside: unchanged",
            ),
            (
                "2026-03-24T17:29:59",
                "2026-03-24T17:29:59",
                "last second inside",
            ),
            (
                "2026-03-24T17:30:00",
                "2026-03-25T09:00:00",
                "closing time is outside",
            ),
            (
                "2026-03-27T18:00:00",
                "2026-03-30T09:00:00",
                "Friday evening → Monday, in CEST",
            ),
            (
                "2026-03-28T12:00:00",
                "2026-03-30T09:00:00",
                "Saturday → Monday",
            ),
            (
                "2026-05-14T08:00:00",
                "2026-05-15T09:00:00",
                "Ascension → Friday",
            ),
            (
                "2026-04-30T20:00:00",
                "2026-05-04T09:00:00",
                "1 May Friday, weekend",
            ),
            (
                "2026-10-23T18:00:00",
                "2026-10-26T09:00:00",
                "Friday → Monday, back in CET",
            ),
        ];
        for (at, expected, why) in cases {
            assert_eq!(
                fr.next_send_instant(paris(at), Paris),
                paris(expected),
                "{at}: {why}"
            );
        }
        // The Friday → Monday over the March change lands at 07:00 UTC, not 08:00.
        assert_eq!(
            fr.next_send_instant(paris("2026-03-27T18:00:00"), Paris),
            utc("2026-03-30T07:00:00Z")
        );
    }

    #[test]
    fn next_send_instant_across_dst_gaps_and_folds() {
        // Paris, Sunday 29 March 2026: 02:00 CET → 03:00 CEST at 01:00 UTC (02:xx is missing).
        // Sunday 25 October 2026: 03:00 CEST → 02:00 CET at 01:00 UTC (02:xx occurs twice).
        // (window from, to, at UTC, expected UTC, why)
        let cases = [
            (
                "02:30",
                "05:00",
                "2026-03-28T23:00:00Z",
                "2026-03-29T01:00:00Z",
                "02:30 does not exist: the gap's end, 03:00 CEST",
            ),
            (
                "02:30",
                "05:00",
                "2026-03-29T01:00:00Z",
                "2026-03-29T01:00:00Z",
                "03:00 CEST is inside already",
            ),
            (
                "02:10",
                "02:50",
                "2026-03-28T23:00:00Z",
                "2026-03-30T00:10:00Z",
                "the whole window is in the gap: next day 02:10 CEST",
            ),
            (
                "02:30",
                "04:00",
                "2026-10-24T22:00:00Z",
                "2026-10-25T00:30:00Z",
                "02:30 twice: the earliest, in CEST",
            ),
            (
                "02:30",
                "04:00",
                "2026-10-25T01:10:00Z",
                "2026-10-25T01:30:00Z",
                "at 02:10 CET, after the first 02:30: the second one",
            ),
            (
                "02:00",
                "02:30",
                "2026-10-25T00:45:00Z",
                "2026-10-25T01:00:00Z",
                "at 02:45 CEST, past the window: the fold brings 02:00 CET back",
            ),
            (
                "09:00",
                "17:30",
                "2026-03-28T23:00:00Z",
                "2026-03-29T07:00:00Z",
                "an ordinary window on the gap day",
            ),
            (
                "09:00",
                "17:30",
                "2026-10-24T22:00:00Z",
                "2026-10-25T08:00:00Z",
                "an ordinary window on the fold day",
            ),
        ];
        for (from, to, at, expected, why) in cases {
            let cal = every_day(from, to);
            assert_eq!(
                cal.next_send_instant(utc(at), Paris),
                utc(expected),
                "{at}: {why}"
            );
        }
    }

    #[test]
    fn next_send_instant_is_the_first_instant_in_window() {
        // Brute force around both 2026 changes, in Paris and in New York (changes at 02:00
        // local, other dates), minute by minute: the answer is in the window and no earlier
        // minute since `at` is.
        let windows = [
            ("02:30", "05:00"),
            ("02:00", "02:30"),
            ("01:00", "02:15"),
            ("09:00", "17:30"),
        ];
        let zones = [
            (Paris, "2026-03-28T12:00:00Z"),
            (Paris, "2026-10-24T12:00:00Z"),
            (chrono_tz::America::New_York, "2026-03-07T12:00:00Z"),
            (chrono_tz::America::New_York, "2026-10-31T12:00:00Z"),
        ];
        for (from, to) in windows {
            let cal = every_day(from, to);
            for (tz, start) in zones {
                for step in 0..(48 * 4) {
                    let at = utc(start) + Duration::minutes(15 * step + 7);
                    let got = cal.next_send_instant(at, tz);
                    assert!(
                        got >= at && cal.in_window(got, tz),
                        "{from}-{to} {tz} {at}: {got}"
                    );
                    let mut m = at;
                    while m < got - Duration::minutes(1) {
                        m += Duration::minutes(1);
                        assert!(
                            !cal.in_window(m, tz),
                            "{from}-{to} {tz} {at}: {m} before {got}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn in_window() {
        let fr = office(Holidays::Fr);
        // (instant UTC, expected, why)
        let cases = [
            ("2026-03-23T08:00:00Z", true, "Monday 09:00 CET: opening"),
            ("2026-03-23T07:59:59Z", false, "Monday 08:59:59 CET"),
            ("2026-03-23T16:29:59Z", true, "Monday 17:29:59 CET"),
            ("2026-03-23T16:30:00Z", false, "Monday 17:30 CET: closing"),
            ("2026-03-30T07:30:00Z", true, "Monday 09:30 CEST"),
            (
                "2026-03-23T07:30:00Z",
                false,
                "Monday 08:30 CET: same UTC time, a week earlier",
            ),
            ("2026-03-28T10:00:00Z", false, "Saturday"),
            ("2026-05-01T10:00:00Z", false, "1 May, a Friday"),
            ("2026-05-14T10:00:00Z", false, "Ascension"),
            ("2026-05-15T10:00:00Z", true, "the Friday after"),
            (
                "2026-03-23T23:30:00Z",
                false,
                "Monday UTC, but Tuesday 00:30 in Paris",
            ),
        ];
        for (at, expected, why) in cases {
            assert_eq!(fr.in_window(utc(at), Paris), expected, "{at}: {why}");
        }
    }
}
