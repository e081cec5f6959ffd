//! Table tests of the pure policy at chosen dates.

use super::*;
use config::ThankYou;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn step(id: &str, offset: i32) -> Step {
    Step {
        id: id.into(),
        offset_days: offset,
        channel: ChannelKind::Email,
        template: id.into(),
        show_late_fees: false,
        assignee: None,
        registered: false,
    }
}

/// The ladder: courtesy D-3, friendly D+7, firm D+14, at most 2 automatic.
fn policy() -> Policy {
    Policy {
        max_automatic_reminders: 2,
        min_balance: Decimal::new(500, 2),
        steps: vec![step("courtesy", -3), step("friendly", 7), step("firm", 14)],
        thank_you: Some(ThankYou {
            channel: ChannelKind::Email,
            template: "thanks".into(),
        }),
        group_by_customer: false,
        segments: Vec::new(),
        alerts: Vec::new(),
    }
}

fn open(due: &str) -> InvoiceFacts {
    InvoiceFacts {
        status: InvoiceStatus::Open,
        chase: true,
        due_on: Some(d(due)),
        balance: Decimal::new(124800, 2),
        paused_until: None,
        pause_reason: None,
        plan: None,
    }
}

fn sent(step: &str, on: &str) -> ReminderFact {
    ReminderFact {
        step: step.into(),
        state: ReminderState::Sent,
        automatic: true,
        planned_on: d(on),
    }
}

fn run(inv: &InvoiceFacts, reminders: &[ReminderFact], today: &str) -> Decision {
    run_with(inv, &CustomerFacts::default(), reminders, &policy(), today)
}

fn run_with(
    inv: &InvoiceFacts,
    customer: &CustomerFacts,
    reminders: &[ReminderFact],
    policy: &Policy,
    today: &str,
) -> Decision {
    decide(
        PlanInput {
            invoice: inv,
            customer,
            reminders,
        },
        policy,
        d(today),
    )
}

fn step_of(decision: &Decision) -> Option<&str> {
    decision.action.as_ref().ok().map(|p| p.step.as_str())
}

fn hold_of(decision: &Decision) -> &'static str {
    match &decision.action {
        Ok(p) => panic!("expected a hold, got {p:?}"),
        Err(h) => h.code(),
    }
}

#[test]
fn each_step_on_its_day_with_nothing_sent_before() {
    let inv = open("2027-01-15");
    // (today, reminders already sent, expected step or hold code)
    let cases: Vec<(&str, Vec<ReminderFact>, Result<&str, &str>)> = vec![
        ("2027-01-01", vec![], Err("not_yet_due")),
        ("2027-01-11", vec![], Err("not_yet_due")),
        ("2027-01-12", vec![], Ok("courtesy")),
        (
            "2027-01-13",
            vec![sent("courtesy", "2027-01-12")],
            Err("already_sent"),
        ),
        // Between the courtesy's window (closed at the due date) and the friendly's day.
        (
            "2027-01-15",
            vec![sent("courtesy", "2027-01-12")],
            Err("not_yet_due"),
        ),
        (
            "2027-01-21",
            vec![sent("courtesy", "2027-01-12")],
            Err("not_yet_due"),
        ),
        (
            "2027-01-22",
            vec![sent("courtesy", "2027-01-12")],
            Ok("friendly"),
        ),
        (
            "2027-01-29",
            vec![
                sent("courtesy", "2027-01-12"),
                sent("friendly", "2027-01-22"),
            ],
            Ok("firm"),
        ),
        (
            "2027-03-01",
            vec![
                sent("courtesy", "2027-01-12"),
                sent("friendly", "2027-01-22"),
                sent("firm", "2027-01-29"),
            ],
            Err("already_sent"),
        ),
    ];
    for (today, reminders, expected) in cases {
        let decision = run(&inv, &reminders, today);
        match expected {
            Ok(step) => assert_eq!(step_of(&decision), Some(step), "{today}: {decision:?}"),
            Err(code) => assert_eq!(hold_of(&decision), code, "{today}: {decision:?}"),
        }
    }
}

#[test]
fn not_yet_due_names_the_next_step_and_its_day() {
    let decision = run(&open("2027-01-15"), &[], "2027-01-01");
    assert_eq!(
        decision.action,
        Err(Hold::NotYetDue {
            next_step: "courtesy".into(),
            on: d("2027-01-12")
        })
    );
}

#[test]
fn an_invoice_found_late_gets_todays_step_only_and_earlier_ones_are_skipped() {
    let decision = run(&open("2027-01-15"), &[], "2027-02-04");
    assert_eq!(step_of(&decision), Some("firm"));
    assert_eq!(
        decision.missed,
        vec!["courtesy".to_string(), "friendly".to_string()]
    );
    // Twenty days late with only the courtesy sent: firm, friendly skipped.
    let decision = run(
        &open("2027-01-15"),
        &[sent("courtesy", "2027-01-12")],
        "2027-02-04",
    );
    assert_eq!(step_of(&decision), Some("firm"));
    assert_eq!(decision.missed, vec!["friendly".to_string()]);
}

#[test]
fn the_courtesy_notice_is_never_sent_after_the_due_date() {
    for today in ["2027-01-15", "2027-01-16", "2027-01-21"] {
        let decision = run(&open("2027-01-15"), &[], today);
        assert_eq!(hold_of(&decision), "not_yet_due", "{today}");
    }
}

#[test]
fn the_automatic_limit_stops_later_steps() {
    let mut p = policy();
    p.steps.push(step("final", 30));
    let reminders = vec![sent("friendly", "2027-01-22"), sent("firm", "2027-01-29")];
    let decision = run_with(
        &open("2027-01-15"),
        &CustomerFacts::default(),
        &reminders,
        &p,
        "2027-02-14",
    );
    // Past the limit the step is not sent by itself: it waits for a person.
    let planned = decision.action.clone().unwrap();
    assert_eq!(planned.step, "final");
    assert!(!planned.automatic);
    assert_eq!(
        planned.review.as_deref(),
        Some("step limit reached: 2 automatic reminders of 2; final needs a person")
    );
    // The pre-due courtesy does not count against the limit.
    p.max_automatic_reminders = 1;
    let reminders = vec![sent("courtesy", "2027-01-12")];
    let decision = run_with(
        &open("2027-01-15"),
        &CustomerFacts::default(),
        &reminders,
        &p,
        "2027-01-22",
    );
    assert_eq!(step_of(&decision), Some("friendly"));
    // A failed reminder does not count; a pending one does.
    let mut failed = sent("friendly", "2027-01-22");
    failed.state = ReminderState::Failed;
    let decision = run_with(
        &open("2027-01-15"),
        &CustomerFacts::default(),
        &[failed],
        &p,
        "2027-01-29",
    );
    assert_eq!(step_of(&decision), Some("firm"));
    let mut pending = sent("friendly", "2027-01-22");
    pending.state = ReminderState::Pending;
    let decision = run_with(
        &open("2027-01-15"),
        &CustomerFacts::default(),
        &[pending],
        &p,
        "2027-01-29",
    );
    assert!(
        !decision.action.unwrap().automatic,
        "limit reached: a person decides"
    );
}

#[test]
fn closed_and_unchased_invoices_get_nothing() {
    let cases = [
        (InvoiceStatus::Void, "void"),
        (InvoiceStatus::Uncollectible, "uncollectible"),
        (InvoiceStatus::Draft, "draft"),
        (InvoiceStatus::Paid, "paid"),
    ];
    for (status, code) in cases {
        let inv = InvoiceFacts {
            status,
            ..open("2027-01-15")
        };
        assert_eq!(hold_of(&run(&inv, &[], "2027-01-22")), code);
    }
    let automatic = InvoiceFacts {
        chase: false,
        ..open("2027-01-15")
    };
    assert_eq!(hold_of(&run(&automatic, &[], "2027-01-22")), "not_chased");
    let no_due = InvoiceFacts {
        due_on: None,
        ..open("2027-01-15")
    };
    assert_eq!(hold_of(&run(&no_due, &[], "2027-01-22")), "no_due_date");
}

#[test]
fn small_balances_are_not_chased() {
    let small = InvoiceFacts {
        balance: Decimal::new(499, 2),
        ..open("2027-01-15")
    };
    assert_eq!(hold_of(&run(&small, &[], "2027-01-22")), "below_minimum");
    let exact = InvoiceFacts {
        balance: Decimal::new(500, 2),
        ..open("2027-01-15")
    };
    assert_eq!(step_of(&run(&exact, &[], "2027-01-22")), Some("friendly"));
    let zero = InvoiceFacts {
        balance: Decimal::ZERO,
        ..open("2027-01-15")
    };
    let mut p = policy();
    p.min_balance = Decimal::ZERO;
    let decision = run_with(&zero, &CustomerFacts::default(), &[], &p, "2027-01-22");
    assert_eq!(hold_of(&decision), "below_minimum");
}

#[test]
fn pauses_and_exclusions() {
    let paused = InvoiceFacts {
        paused_until: Some(d("2027-01-25")),
        ..open("2027-01-15")
    };
    assert_eq!(
        run(&paused, &[], "2027-01-22").action,
        Err(Hold::Paused {
            until: d("2027-01-25"),
            reason: None,
        })
    );
    assert_eq!(hold_of(&run(&paused, &[], "2027-01-25")), "paused");
    assert_eq!(step_of(&run(&paused, &[], "2027-01-26")), Some("friendly"));
    let customer = CustomerFacts {
        paused_until: Some(d("2027-02-01")),
        ..CustomerFacts::default()
    };
    let decision = run_with(&open("2027-01-15"), &customer, &[], &policy(), "2027-01-22");
    assert_eq!(hold_of(&decision), "paused");
    let excluded = CustomerFacts {
        excluded: true,
        ..CustomerFacts::default()
    };
    let decision = run_with(&open("2027-01-15"), &excluded, &[], &policy(), "2027-01-22");
    assert_eq!(hold_of(&decision), "excluded");
}

#[test]
fn thank_you_once_after_payment_of_a_reminded_invoice() {
    let paid = InvoiceFacts {
        status: InvoiceStatus::Paid,
        balance: Decimal::ZERO,
        ..open("2027-01-15")
    };
    let reminded = vec![sent("friendly", "2027-01-22")];
    let decision = run(&paid, &reminded, "2027-01-25");
    let planned = decision.action.unwrap();
    assert_eq!(
        (planned.step.as_str(), planned.kind),
        ("thank_you", "thank_you")
    );
    assert_eq!(planned.template, "thanks");
    let mut thanked = reminded.clone();
    thanked.push(sent("thank_you", "2027-01-25"));
    assert_eq!(hold_of(&run(&paid, &thanked, "2027-01-26")), "thanked");
    // Never reminded (paid on time), or reminded only by a cancelled row: no thank-you.
    assert_eq!(hold_of(&run(&paid, &[], "2027-01-25")), "paid");
    let mut cancelled = sent("friendly", "2027-01-22");
    cancelled.state = ReminderState::Cancelled;
    assert_eq!(hold_of(&run(&paid, &[cancelled], "2027-01-25")), "paid");
    // No thank-you configured.
    let mut p = policy();
    p.thank_you = None;
    let decision = run_with(
        &paid,
        &CustomerFacts::default(),
        &reminded,
        &p,
        "2027-01-25",
    );
    assert_eq!(hold_of(&decision), "paid");
}

#[test]
fn a_skipped_step_is_not_planned_again() {
    let mut skipped = sent("friendly", "2027-01-22");
    skipped.state = ReminderState::Skipped;
    let decision = run(&open("2027-01-15"), &[skipped], "2027-01-23");
    assert_eq!(hold_of(&decision), "already_sent");
}

#[test]
fn steps_on_the_same_day_go_one_per_day_in_written_order() {
    let mut p = policy();
    p.max_automatic_reminders = 5;
    p.steps = vec![step("a", 7), step("b", 7)];
    let first = run_with(
        &open("2027-01-15"),
        &CustomerFacts::default(),
        &[],
        &p,
        "2027-01-22",
    );
    assert_eq!(step_of(&first), Some("a"));
    let second = run_with(
        &open("2027-01-15"),
        &CustomerFacts::default(),
        &[sent("a", "2027-01-22")],
        &p,
        "2027-01-22",
    );
    assert_eq!(step_of(&second), Some("b"));
    assert!(second.missed.is_empty());
}

#[test]
fn a_ladder_walked_day_by_day_sends_each_step_exactly_once() {
    let inv = open("2027-01-15");
    let mut reminders: Vec<ReminderFact> = Vec::new();
    let mut sent_on = Vec::new();
    let mut day = d("2026-12-20");
    while day <= d("2027-04-01") {
        let decision = run(&inv, &reminders, &day.to_string());
        if let Ok(p) = decision.action {
            reminders.push(sent(&p.step, &day.to_string()));
            sent_on.push((p.step, day.to_string()));
        }
        day = day.succ_opt().unwrap();
    }
    assert_eq!(
        sent_on,
        vec![
            ("courtesy".to_string(), "2027-01-12".to_string()),
            ("friendly".to_string(), "2027-01-22".to_string()),
            ("firm".to_string(), "2027-01-29".to_string()),
        ]
    );
}

mod v2 {
    //! Policy v2: business days, the review queue, segments.
    use super::*;
    use crate::calendar::{Calendar, Holidays, SendWindow};
    use crate::policy::config::{Segment, SegmentWhen};

    fn french() -> Calendar {
        Calendar {
            holidays: Holidays::Fr,
            window: SendWindow::office_hours(),
        }
    }

    fn on(inv: &InvoiceFacts, customer: &CustomerFacts, p: &Policy, today: &str) -> Decision {
        decide_on(
            PlanInput {
                invoice: inv,
                customer,
                reminders: &[],
            },
            p,
            d(today),
            &french(),
        )
    }

    #[test]
    fn steps_fall_on_business_days() {
        let p = policy();
        let c = CustomerFacts::default();
        // (due date, today, expected): friendly is due+7, firm due+14.
        let cases: Vec<(&str, &str, Result<&str, &str>)> = vec![
            // due Sat 2027-01-09 + 7 = Sat 16 Jan: nothing on the weekend, out on Monday 18.
            ("2027-01-09", "2027-01-16", Err("not_business_day")),
            ("2027-01-09", "2027-01-17", Err("not_business_day")),
            ("2027-01-09", "2027-01-18", Ok("friendly")),
            // Easter Monday 2027 = 29 March: due 22 March + 7 falls on it → Tuesday 30.
            ("2027-03-22", "2027-03-29", Err("not_business_day")),
            ("2027-03-22", "2027-03-30", Ok("friendly")),
            // Ascension 2027 = Thursday 6 May: due 29 April + 7 → Friday 7 May.
            ("2027-04-29", "2027-05-06", Err("not_business_day")),
            ("2027-04-29", "2027-05-07", Ok("friendly")),
            // 8 May 2028 is a Monday (Victoire 1945): due 1 May + 7 → Tuesday 9 May 2028.
            ("2028-05-01", "2028-05-08", Err("not_business_day")),
            ("2028-05-01", "2028-05-09", Ok("friendly")),
            // A business day before the moved step: not yet due, named with its real day.
            ("2027-03-22", "2027-03-26", Err("not_yet_due")),
        ];
        for (due, today, expected) in cases {
            let decision = on(&open(due), &c, &p, today);
            match expected {
                Ok(step) => assert_eq!(step_of(&decision), Some(step), "{due} {today}"),
                Err(code) => assert_eq!(hold_of(&decision), code, "{due} {today}"),
            }
        }
        let decision = on(&open("2027-03-22"), &c, &p, "2027-03-26");
        assert_eq!(
            decision.action,
            Err(Hold::NotYetDue {
                next_step: "friendly".into(),
                on: d("2027-03-30")
            })
        );
    }

    #[test]
    fn a_down_day_is_caught_up_once() {
        // friendly due Mon 18 Jan 2027; the daemon was down that day: sent Tuesday, once.
        let p = policy();
        let inv = open("2027-01-11");
        let c = CustomerFacts::default();
        assert_eq!(step_of(&on(&inv, &c, &p, "2027-01-19")), Some("friendly"));
        let sent = [sent("friendly", "2027-01-19")];
        let again = decide_on(
            PlanInput {
                invoice: &inv,
                customer: &c,
                reminders: &sent,
            },
            &p,
            d("2027-01-20"),
            &french(),
        );
        assert_eq!(hold_of(&again), "already_sent");
    }

    fn segmented() -> Policy {
        let mut p = policy();
        p.segments = vec![
            Segment {
                id: "reliable".into(),
                when: SegmentWhen {
                    paid_invoices_at_least: Some(3),
                    average_days_late_at_most: Some(Decimal::from(5)),
                    ..SegmentWhen::default()
                },
                tone: Some("gentle".into()),
                skip_steps: vec!["courtesy".into()],
                offset_shift_days: 0,
            },
            Segment {
                id: "at_risk".into(),
                when: SegmentWhen {
                    average_days_late_at_least: Some(Decimal::from(20)),
                    ..SegmentWhen::default()
                },
                tone: Some("firm".into()),
                skip_steps: vec![],
                offset_shift_days: -3,
            },
        ];
        p
    }

    fn customer(paid: u32, late: i64) -> CustomerFacts {
        CustomerFacts {
            history: CustomerHistory {
                paid_invoices: paid,
                average_days_late: Decimal::from(late),
                ..CustomerHistory::default()
            },
            ..CustomerFacts::default()
        }
    }

    #[test]
    fn a_customer_in_each_segment() {
        let p = segmented();
        let inv = open("2027-01-15"); // a Friday
        // Reliable: no courtesy notice before the due date; the friendly one in a gentle tone.
        let reliable = customer(4, 2);
        assert_eq!(
            hold_of(&on(&inv, &reliable, &p, "2027-01-12")),
            "not_yet_due"
        );
        let d1 = on(&inv, &reliable, &p, "2027-01-22");
        let planned = d1.action.unwrap();
        assert_eq!(planned.step, "friendly");
        assert_eq!(planned.segment.as_deref(), Some("reliable"));
        assert_eq!(planned.variant.as_deref(), Some("gentle"));
        assert!(
            d1.missed.is_empty(),
            "a skipped step is not recorded as missed"
        );
        // At risk: everything three days earlier (friendly on Tuesday 19 instead of Friday 22).
        let at_risk = customer(5, 31);
        let planned = on(&inv, &at_risk, &p, "2027-01-19").action.unwrap();
        assert_eq!(planned.step, "friendly");
        assert_eq!(planned.segment.as_deref(), Some("at_risk"));
        assert_eq!(planned.variant.as_deref(), Some("firm"));
        // Nobody's: the default ladder, no segment recorded.
        let usual = customer(1, 10);
        assert_eq!(hold_of(&on(&inv, &usual, &p, "2027-01-19")), "not_yet_due");
        let planned = on(&inv, &usual, &p, "2027-01-22").action.unwrap();
        assert_eq!((planned.segment, planned.variant), (None, None));
        // No history at all matches no average-based rule.
        assert_eq!(segment_of(&p, &CustomerHistory::default()), None);
    }

    #[test]
    fn people_steps_go_to_the_review_queue() {
        let mut p = policy();
        p.steps.push(Step {
            channel: ChannelKind::Task,
            assignee: Some("owner".into()),
            ..step("call", 30)
        });
        p.steps.push(Step {
            channel: ChannelKind::Letter,
            registered: true,
            ..step("registered", 45)
        });
        let inv = open("2027-01-15");
        let reminders = [sent("friendly", "2027-01-22"), sent("firm", "2027-01-29")];
        let at = |today: &str, reminders: &[ReminderFact]| {
            decide(
                PlanInput {
                    invoice: &inv,
                    customer: &CustomerFacts::default(),
                    reminders,
                },
                &p,
                d(today),
            )
        };
        let call = at("2027-02-14", &reminders).action.unwrap();
        assert_eq!((call.step.as_str(), call.automatic), ("call", false));
        assert_eq!(call.review.as_deref(), Some("call: a call to make (owner)"));
        let mut more = reminders.to_vec();
        more.push(ReminderFact {
            state: ReminderState::Review,
            automatic: false,
            ..sent("call", "2027-02-14")
        });
        assert_eq!(
            hold_of(&at("2027-02-20", &more)),
            "already_sent",
            "waiting: not planned again"
        );
        let letter = at("2027-03-01", &more).action.unwrap();
        assert_eq!(
            letter.review.as_deref(),
            Some("registered: a registered letter to approve")
        );
    }
}

#[test]
fn a_payment_plan_with_a_missed_instalment() {
    let plan = PlanFacts {
        instalments: vec![
            (d("2027-02-01"), Decimal::new(40000, 2)),
            (d("2027-03-03"), Decimal::new(40000, 2)),
            (d("2027-04-02"), Decimal::new(40000, 2)),
        ],
    };
    let inv = |balance: i64| InvoiceFacts {
        balance: Decimal::new(balance, 2),
        plan: Some(plan.clone()),
        ..open("2027-01-15")
    };
    // Before the first instalment: the ladder is replaced, nothing goes out.
    let before = run(&inv(120000), &[], "2027-01-22");
    assert_eq!(
        before.action,
        Err(Hold::PaymentPlan {
            next: Some(1),
            on: Some(d("2027-02-01"))
        })
    );
    // On its day: the instalment's reminder.
    assert_eq!(
        step_of(&run(&inv(120000), &[], "2027-02-01")),
        Some("instalment-1")
    );
    // Paid: the next one is awaited.
    let sent = [sent("instalment-1", "2027-02-01")];
    assert_eq!(
        run(&inv(80000), &sent, "2027-02-10").action,
        Err(Hold::PaymentPlan {
            next: Some(2),
            on: Some(d("2027-03-03"))
        })
    );
    // Still unpaid after the grace days: the plan is broken, the ladder comes back (the step
    // that fits today, the earlier ones recorded as missed), with a note.
    let broken = run(&inv(120000), &sent, "2027-02-10");
    assert_eq!(step_of(&broken), Some("firm"));
    assert_eq!(broken.missed, vec!["courtesy", "friendly"]);
    assert!(
        broken.notes[0].contains("payment plan broken: instalment 1"),
        "{:?}",
        broken.notes
    );
    // Within the grace days it is not broken yet.
    assert_eq!(
        hold_of(&run(&inv(120000), &sent, "2027-02-05")),
        "payment_plan"
    );
}
