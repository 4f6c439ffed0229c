//! What the escalation generators know of the fleet: each service's workflow (its steps,
//! validators, policy and inputs) and the paths its model calls may take, derived from the
//! topology. The services of the default topology have their own workflows; any other
//! service gets a generic one.

use std::fmt::Write as _;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::topology::Topology;
use protocol::Role;
use protocol::escalations::Priority;

/// A model endpoint as the lineage names it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderRef {
    pub id: String,
    pub vendor: String,
    pub model: String,
    pub region: String,
}

/// One way a service's model call can go: a provider at the gateway of a region where the
/// service has a replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Path {
    pub provider: u16,
    /// Index of the region in the topology.
    pub region: u16,
    pub rank: u32,
    /// The replica of that region is active (a workflow runs there without a promotion).
    pub active: bool,
}

pub struct ServiceProfile {
    pub id: String,
    pub workflow: &'static WorkflowTemplate,
    /// In the order a workflow tries them: active regions first, by rank within a region.
    pub paths: Vec<Path>,
}

impl ServiceProfile {
    /// Paths a running workflow can use without a promotion.
    pub fn active_paths(&self) -> impl Iterator<Item = &Path> {
        self.paths.iter().filter(|p| p.active)
    }

    /// Whether a workflow of this service can run at all, and so escalate.
    pub fn can_escalate(&self) -> bool {
        self.active_paths().next().is_some()
    }
}

pub struct Catalogue {
    pub services: Vec<ServiceProfile>,
    /// Same index as the topology's providers.
    pub providers: Vec<ProviderRef>,
    /// The roster: who may be handed a task.
    pub operators: Vec<(String, Role)>,
}

impl Catalogue {
    pub fn new(topology: &Topology) -> Catalogue {
        let providers = topology
            .providers
            .iter()
            .map(|p| ProviderRef {
                id: p.id.clone(),
                vendor: p.vendor.clone(),
                model: p.model.clone(),
                region: topology.regions[p.region_index].id.clone(),
            })
            .collect();
        let services = topology
            .services
            .iter()
            .map(|service| {
                let mut replicas: Vec<_> = service.replicas.iter().collect();
                // Stable: active replicas first, in topology order.
                replicas.sort_by_key(|r| r.role.is_standby());
                let mut routes = service.routes.clone();
                routes.sort_by_key(|r| r.rank);
                let mut paths = Vec::new();
                for replica in replicas {
                    for route in &routes {
                        let provider = topology.providers.iter().position(|p| {
                            p.vendor == route.vendor && p.region_index == replica.region_index
                        });
                        if let Some(provider) = provider {
                            paths.push(Path {
                                provider: provider as u16,
                                region: replica.region_index as u16,
                                rank: route.rank,
                                active: !replica.role.is_standby(),
                            });
                        }
                    }
                }
                ServiceProfile {
                    id: service.id.clone(),
                    workflow: WorkflowTemplate::for_service(&service.id),
                    paths,
                }
            })
            .collect();
        Catalogue {
            services,
            providers,
            operators: topology
                .operators
                .iter()
                .map(|o| (o.name.clone(), o.role))
                .collect(),
        }
    }
}

/// A validator that can reject an output, and what it says when it does.
pub struct ValidatorTemplate {
    pub name: &'static str,
    pub rejections: &'static [&'static str],
}

/// A workflow that runs a service's step: what comes before it, how it is checked, what its
/// inputs look like.
pub struct WorkflowTemplate {
    pub workflow_type: &'static str,
    /// Prefix of workflow ids, e.g. `credit-app`.
    pub id_prefix: &'static str,
    /// Steps completed before the escalated one, with whether they call a model.
    pub steps_before: &'static [(&'static str, bool)],
    /// The step that escalates (the service's model call).
    pub step: &'static str,
    pub priority: Priority,
    pub confidence_threshold: f64,
    pub validators: &'static [ValidatorTemplate],
    /// The policy check and why it wants a person.
    pub policy: (&'static str, &'static [&'static str]),
    /// The task's input fields; the first few make the inbox preview.
    pub context: fn(&mut ChaCha8Rng) -> Vec<(&'static str, Value)>,
    /// A plausible output of the step.
    pub output: fn(&mut ChaCha8Rng) -> String,
    /// What the workflow holds at its checkpoint.
    pub checkpoint_state: &'static str,
    /// Longest prompt the step sends, in tokens (for context-overflow errors).
    pub prompt_tokens: u32,
}

impl WorkflowTemplate {
    pub fn for_service(id: &str) -> &'static WorkflowTemplate {
        match id {
            "risk-scorer" => &RISK_SCORER,
            "credit-decision" => &CREDIT_DECISION,
            "feature-store" => &FEATURE_STORE,
            "email-notifier" => &EMAIL_NOTIFIER,
            "log-aggregator" => &LOG_AGGREGATOR,
            _ => &GENERIC,
        }
    }

    /// The input as a JSON object and its one-line preview.
    pub fn input(&self, rng: &mut ChaCha8Rng) -> (Value, String) {
        let fields = (self.context)(rng);
        let preview = preview_of(&fields);
        let object = fields
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        (Value::Object(object), preview)
    }

    /// The one-line preview of the input [`WorkflowTemplate::input`] makes from the same
    /// draws, without building the object.
    pub fn preview(&self, rng: &mut ChaCha8Rng) -> String {
        preview_of(&(self.context)(rng))
    }
}

fn preview_of(fields: &[(&str, Value)]) -> String {
    let mut preview = String::new();
    for (i, (name, value)) in fields.iter().take(PREVIEW_FIELDS).enumerate() {
        if i > 0 {
            preview.push(' ');
        }
        preview.push_str(name);
        preview.push('=');
        // Strings and whole numbers written as the JSON `Display` of a value would, without
        // its serializer (the preview of every task of a page is written anew).
        match value {
            Value::String(text) => preview.push_str(text),
            Value::Bool(flag) => preview.push_str(if *flag { "true" } else { "false" }),
            Value::Number(n) if n.is_u64() || n.is_i64() => {
                let _ = write!(preview, "{n}");
            }
            other => {
                let _ = write!(preview, "{other}");
            }
        }
    }
    preview
}

const PREVIEW_FIELDS: usize = 4;

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn hex_id(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!("{prefix}-{:08x}", rng.random::<u32>())
}

const MERCHANTS: &[&str] = &[
    "Nordlicht Travel",
    "QuickPay Gaming",
    "Atlas Electronics",
    "Green Basket Grocers",
    "Luna Jewellery",
    "CryptoBridge OTC",
];
const COUNTRIES: &[&str] = &["DE", "FR", "US", "BR", "NG", "IN", "GB", "SG"];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP"];
const PEOPLE: &[&str] = &[
    "A. Okafor",
    "M. Rossi",
    "J. Chen",
    "L. Fischer",
    "S. Patel",
    "R. García",
];
const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "pt"];

static RISK_SCORER: WorkflowTemplate = WorkflowTemplate {
    workflow_type: "PaymentReview",
    id_prefix: "payment-review",
    steps_before: &[("load-transaction", false), ("enrich-merchant", true)],
    step: "score-risk",
    priority: Priority::P2,
    confidence_threshold: 0.75,
    validators: &[
        ValidatorTemplate {
            name: "schema:risk-score-v2",
            rejections: &[
                "`reasons` cites a feature the model was not given",
                "`score` is a string, expected a number",
            ],
        },
        ValidatorTemplate {
            name: "calibration",
            rejections: &[
                "score not calibrated for this merchant category (ECE 0.21 > 0.05)",
                "score disagrees with the rules engine by more than 0.4",
            ],
        },
    ],
    policy: (
        "policy:high-value-payment",
        &[
            "amount above 10,000 needs a second pair of eyes",
            "merchant on the enhanced-due-diligence list",
        ],
    ),
    context: |rng| {
        vec![
            ("transaction_id", json!(hex_id(rng, "tx"))),
            ("amount", json!(rng.random_range(40..25_000))),
            ("currency", json!(pick(rng, CURRENCIES))),
            ("merchant", json!(pick(rng, MERCHANTS))),
            ("country", json!(pick(rng, COUNTRIES))),
            ("card_present", json!(rng.random_bool(0.3))),
            ("velocity_10m", json!(rng.random_range(1..9))),
        ]
    },
    output: |rng| {
        let score = rng.random_range(35..95) as f64 / 100.0;
        let reasons = [
            "new device",
            "velocity above merchant norm",
            "billing/shipping country mismatch",
            "merchant category 5967",
            "first purchase at merchant",
        ];
        format!(
            "risk score {score:.2}: {} and {}",
            pick(rng, &reasons),
            pick(rng, &reasons)
        )
    },
    checkpoint_state: "transaction loaded and merchant enriched",
    prompt_tokens: 6_000,
};

static CREDIT_DECISION: WorkflowTemplate = WorkflowTemplate {
    workflow_type: "CreditApplication",
    id_prefix: "credit-app",
    steps_before: &[("collect-documents", false), ("extract-income", true)],
    step: "decide-credit-line",
    priority: Priority::P2,
    confidence_threshold: 0.8,
    validators: &[
        ValidatorTemplate {
            name: "schema:credit-decision-v3",
            rejections: &[
                "missing required field `apr`",
                "`limit` must be a whole number of currency units",
            ],
        },
        ValidatorTemplate {
            name: "fair-lending",
            rejections: &[
                "decision cites the applicant's postcode as a reason",
                "reasons mention age, a protected attribute",
            ],
        },
        ValidatorTemplate {
            name: "limit-within-policy",
            rejections: &["limit above the product maximum for this bureau band"],
        },
    ],
    policy: (
        "policy:auto-approval-limit",
        &[
            "requested limit above the 25,000 auto-approval ceiling",
            "applicant flagged by the bureau for manual review",
        ],
    ),
    context: |rng| {
        vec![
            ("application_id", json!(hex_id(rng, "app"))),
            ("applicant", json!(pick(rng, PEOPLE))),
            ("requested_limit", json!(rng.random_range(2..60) * 1000)),
            ("currency", json!(pick(rng, CURRENCIES))),
            ("bureau_score", json!(rng.random_range(540..820))),
            ("income_verified", json!(rng.random_bool(0.7))),
        ]
    },
    output: |rng| {
        let limit = rng.random_range(2..30) * 1000;
        let apr = rng.random_range(89..249) as f64 / 10.0;
        format!(
            "approve credit line {limit} at {apr:.1}% APR; reasons: stable income, bureau score in band {}",
            pick(rng, &["B", "C", "D"])
        )
    },
    checkpoint_state: "documents collected and income extracted",
    prompt_tokens: 18_000,
};

static FEATURE_STORE: WorkflowTemplate = WorkflowTemplate {
    workflow_type: "FeatureBackfill",
    id_prefix: "feature-backfill",
    steps_before: &[("fetch-documents", false), ("chunk-documents", false)],
    step: "embed-batch",
    priority: Priority::P3,
    confidence_threshold: 0.6,
    validators: &[
        ValidatorTemplate {
            name: "dimension-check",
            rejections: &["vectors of 768 dimensions, the index expects 1536"],
        },
        ValidatorTemplate {
            name: "nan-check",
            rejections: &["14 vectors contain NaN"],
        },
    ],
    policy: (
        "policy:restricted-corpus",
        &["batch contains documents from a legal-hold corpus"],
    ),
    context: |rng| {
        vec![
            ("batch_id", json!(hex_id(rng, "batch"))),
            ("documents", json!(rng.random_range(50..2_000))),
            ("tokens", json!(rng.random_range(20_000..900_000))),
            (
                "index",
                json!(pick(
                    rng,
                    &["support-articles", "contracts", "product-catalog"]
                )),
            ),
        ]
    },
    output: |rng| {
        format!(
            "{} embeddings of 1536 dimensions, mean norm 0.{}",
            rng.random_range(50..2_000),
            rng.random_range(90..99)
        )
    },
    checkpoint_state: "documents fetched and chunked",
    prompt_tokens: 8_000,
};

static EMAIL_NOTIFIER: WorkflowTemplate = WorkflowTemplate {
    workflow_type: "CustomerNotification",
    id_prefix: "notify",
    steps_before: &[("load-ticket", false), ("summarise-thread", true)],
    step: "draft-email",
    priority: Priority::P3,
    confidence_threshold: 0.7,
    validators: &[
        ValidatorTemplate {
            name: "pii-scrubber",
            rejections: &[
                "draft contains a full card number",
                "draft quotes another customer's address",
            ],
        },
        ValidatorTemplate {
            name: "tone-check",
            rejections: &["tone scored as dismissive (0.81)"],
        },
        ValidatorTemplate {
            name: "schema:email-v1",
            rejections: &["subject line missing"],
        },
    ],
    policy: (
        "policy:legal-topic",
        &["customer mentions a chargeback dispute: legal wording needs a person"],
    ),
    context: |rng| {
        vec![
            ("ticket_id", json!(hex_id(rng, "ticket"))),
            ("customer", json!(pick(rng, PEOPLE))),
            ("language", json!(pick(rng, LANGUAGES))),
            (
                "topic",
                json!(pick(
                    rng,
                    &[
                        "refund delay",
                        "card blocked",
                        "address change",
                        "fee dispute"
                    ]
                )),
            ),
        ]
    },
    output: |rng| {
        format!(
            "Subject: Update on your request\n\nHello,\n\nthank you for your patience. {}\n\nKind regards,\nCustomer Care",
            pick(
                rng,
                &[
                    "Your refund was issued today and should arrive within 3 business days.",
                    "We unblocked your card after confirming the recent payments with you.",
                    "We reviewed the fee and will credit it back to your account.",
                ]
            )
        )
    },
    checkpoint_state: "ticket loaded and thread summarised",
    prompt_tokens: 12_000,
};

static LOG_AGGREGATOR: WorkflowTemplate = WorkflowTemplate {
    workflow_type: "IncidentDigest",
    id_prefix: "digest",
    steps_before: &[("collect-logs", false), ("cluster-errors", true)],
    step: "summarise-incident",
    priority: Priority::P4,
    confidence_threshold: 0.65,
    validators: &[
        ValidatorTemplate {
            name: "grounding-check",
            rejections: &["summary cites error code E4217, absent from the logs"],
        },
        ValidatorTemplate {
            name: "length-limit",
            rejections: &["summary of 3,412 characters exceeds 2,000"],
        },
    ],
    policy: (
        "policy:security-incident",
        &["logs show a possible credential leak: security on-call decides"],
    ),
    context: |rng| {
        vec![
            ("window", json!(pick(rng, &["15m", "1h", "6h"]))),
            (
                "services",
                json!(pick(rng, &["checkout,payments", "auth", "search,catalog"])),
            ),
            ("lines", json!(rng.random_range(10_000..2_000_000))),
            ("error_clusters", json!(rng.random_range(2..40))),
        ]
    },
    output: |rng| {
        format!(
            "{} error clusters; the largest ({}% of errors) is connection resets to the payments database after a failover",
            rng.random_range(2..40),
            rng.random_range(30..80)
        )
    },
    checkpoint_state: "logs collected and errors clustered",
    prompt_tokens: 100_000,
};

static GENERIC: WorkflowTemplate = WorkflowTemplate {
    workflow_type: "AgentTask",
    id_prefix: "task",
    steps_before: &[("prepare-input", false)],
    step: "call-model",
    priority: Priority::P3,
    confidence_threshold: 0.7,
    validators: &[ValidatorTemplate {
        name: "schema:output-v1",
        rejections: &["output is not valid JSON"],
    }],
    policy: (
        "policy:human-review",
        &["the step's policy asks a person to review this input"],
    ),
    context: |rng| {
        vec![
            ("task_id", json!(hex_id(rng, "task"))),
            ("input_tokens", json!(rng.random_range(200..20_000))),
        ]
    },
    output: |rng| format!("result {:08x}", rng.random::<u32>()),
    checkpoint_state: "input prepared",
    prompt_tokens: 4_000,
};

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn paths_put_active_regions_first_and_rank_within_a_region() {
        let catalogue = Catalogue::new(&Topology::embedded_default());
        let credit = catalogue
            .services
            .iter()
            .find(|s| s.id == "credit-decision")
            .unwrap();
        let named: Vec<(&str, bool)> = credit
            .paths
            .iter()
            .map(|p| {
                (
                    catalogue.providers[p.provider as usize].id.as_str(),
                    p.active,
                )
            })
            .collect();
        assert_eq!(
            named[..6],
            [
                ("anthropic@us-east", true),
                ("openai@us-east", true),
                ("self-hosted@us-east", true),
                ("anthropic@us-west", false),
                ("openai@us-west", false),
                ("self-hosted@us-west", false),
            ]
        );
        assert!(named[6..].iter().all(|(_, active)| !active));
        assert_eq!(credit.workflow.workflow_type, "CreditApplication");
    }

    #[test]
    fn inputs_are_deterministic_and_previewed_from_their_first_fields() {
        let input = |seed| CREDIT_DECISION.input(&mut ChaCha8Rng::seed_from_u64(seed));
        let (context, preview) = input(7);
        assert_eq!((context.clone(), preview.clone()), input(7));
        assert!(preview.starts_with("application_id=app-"), "{preview}");
        assert!(context["bureau_score"].is_u64());
        assert!(!preview.contains("income_verified"), "{preview}");
        let alone = CREDIT_DECISION.preview(&mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(alone, preview, "the preview alone is the input's");
    }
}
