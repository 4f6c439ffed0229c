//! The lookup of a step's service across a context's audits and the config, and the count of
//! open escalations per step, on the lab's default fleet.

use super::*;
use crate::domain::prices::ServicePrices;
use crate::testing::default_fleet;

/// Two sources report credit-decision with different budgets: the task's own source wins,
/// else the first; a service only the config names is found there, tier unknown; a service
/// nothing knows is not found.
#[test]
fn a_steps_service_is_found_in_its_own_source_first_then_anywhere_then_in_the_config() {
    let mut other = default_fleet();
    let credit = other
        .services
        .iter_mut()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    credit.posture.as_mut().unwrap().budget_left = Some(0.2);
    let config = CostConfig {
        services: [(
            "kyc-check".to_string(),
            ServicePrices {
                criticality: Some(Criticality::Important),
                ..ServicePrices::default()
            },
        )]
        .into(),
        ..CostConfig::default()
    };
    let audits = [
        (0, CostReport::of(&default_fleet(), &config, &[])),
        (3, CostReport::of(&other, &config, &[])),
    ];
    let budget = |prefer| {
        let found = find_service(&audits, &config, "credit-decision", prefer).unwrap();
        (found.source, found.cost.budget_left)
    };
    assert_eq!(budget(Some(3)), (Some(3), Some(0.2)));
    assert_eq!(
        budget(Some(1)),
        (Some(0), Some(0.65)),
        "source 1 audits nothing"
    );
    assert_eq!(budget(None), (Some(0), Some(0.65)));
    let kyc = find_service(&audits, &config, "kyc-check", Some(0)).unwrap();
    assert_eq!(kyc.source, None);
    assert_eq!(
        (kyc.cost.tier, kyc.cost.criticality, kyc.cost.slo),
        (None, Some(Criticality::Important), None)
    );
    assert_eq!(find_service(&audits, &config, "nowhere", None), None);
}

/// Three tasks at CreditApplication/decide (one past its SLA) and one at Onboarding/kyc:
/// two steps, counted apart, each with its service's posture.
#[test]
fn open_escalations_are_counted_per_step_beside_the_budget_of_its_service() {
    let audits = [(
        0,
        CostReport::of(&default_fleet(), &CostConfig::default(), &[]),
    )];
    let task = |workflow_type, step, service, past_sla| EscalatedTask {
        workflow_type,
        step,
        service,
        past_sla,
    };
    let steps = step_costs(
        tally([
            task("CreditApplication", "decide", "credit-decision", false),
            task("Onboarding", "kyc", "kyc-check", false),
            task("CreditApplication", "decide", "credit-decision", true),
            task("CreditApplication", "decide", "credit-decision", false),
        ]),
        &audits,
        &CostConfig::default(),
    );
    let counted: Vec<(&str, &str, usize, usize)> = (steps.iter())
        .map(|s| {
            (
                s.workflow_type.as_str(),
                s.step.as_str(),
                s.open,
                s.past_sla,
            )
        })
        .collect();
    assert_eq!(
        counted,
        [
            ("CreditApplication", "decide", 3, 1),
            ("Onboarding", "kyc", 1, 0)
        ]
    );
    assert_eq!(steps[0].criticality, Some(Criticality::Critical));
    assert_eq!(steps[0].budget_left, Some(0.65));
    assert_eq!((steps[1].criticality, steps[1].budget_left), (None, None));
}
