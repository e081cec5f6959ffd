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
            until: d("2027-01-25")
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
