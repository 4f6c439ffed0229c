//! The LiteLLM client against a real LiteLLM proxy (tests/litellm_support) in front of fake
//! upstreams the test makes fail: deployments with their regions, fallbacks, and the
//! cooldowns and fallbacks served that failures cause; the tokens and spend of calls, and the
//! worker's spend per hour; a wrong key is refused in LiteLLM's words.

mod litellm_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use litellm_support::{MASTER_KEY, chat};
use switchboard::domain::gateway::{DeploymentUsage, SpendBasis};
use switchboard::sources::litellm::{
    DeploymentState, Gateway, LiteLlmClient, LiteLlmSettings, LiteLlmSpec, spawn_litellm,
};
use switchboard::sources::{ClientError, SourceEvent, SourceMsg, SourceOptions, Timeouts};
use tokio::sync::{mpsc, watch};

fn client(url: &str, key: &str) -> LiteLlmClient {
    let regions = BTreeMap::from([
        ("gpt-4o-us-east".to_string(), "us-east".to_string()),
        ("gpt-4o-eu-west".to_string(), "eu-west".to_string()),
        ("small-us-east".to_string(), "us-east".to_string()),
    ]);
    LiteLlmClient::new(url, Some(key.to_string()), regions, Timeouts::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_upstreams_cool_down_and_the_fallback_serves() {
    let Some(proxy) = litellm_support::shared() else {
        return;
    };
    let client = client(&proxy.url, MASTER_KEY);
    let before = client.gateway().await.unwrap();
    let ids: Vec<&str> = before.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["gpt-4o-us-east", "gpt-4o-eu-west", "small-us-east"]);
    let east = &before.deployments[0];
    assert_eq!(
        (
            east.group.as_str(),
            east.model.as_str(),
            east.provider.as_str()
        ),
        ("gpt-4o", "openai/gpt-4o", "openai")
    );
    assert_eq!(east.region.as_deref(), Some("us-east"));
    // No call has gone through it yet: LiteLLM has no state for it, and the console says so.
    assert_eq!(east.state, DeploymentState::Unknown);
    assert_eq!(before.deployments[1].region.as_deref(), Some("eu-west"));
    assert_eq!(
        before.fallbacks,
        [("gpt-4o".to_string(), vec!["small".to_string()])]
    );
    assert_eq!(
        (before.allowed_fails, before.cooldown_s),
        (Some(1), Some(60.0))
    );

    // Both gpt-4o deployments fail: each cools down, the calls are served by `small`.
    proxy.us_east.fail_with(500);
    proxy.eu_west.fail_with(500);
    for _ in 0..4 {
        assert_eq!(chat(&proxy.url, "gpt-4o").await, 200, "the fallback serves");
    }
    let after = client.gateway().await.unwrap();
    for id in ["gpt-4o-us-east", "gpt-4o-eu-west"] {
        let deployment = after.deployments.iter().find(|d| d.id == id).unwrap();
        assert_eq!(deployment.state, DeploymentState::Outage, "{deployment:?}");
        assert!(
            deployment.cooldowns.get("500").is_some_and(|n| *n >= 1),
            "{deployment:?}"
        );
    }
    let small = after
        .deployments
        .iter()
        .find(|d| d.id == "small-us-east")
        .unwrap();
    assert_eq!(small.state, DeploymentState::Healthy);
    let served = after.fallbacks_served[&("gpt-4o".to_string(), "small".to_string())];
    assert!(served >= 1, "{:?}", after.fallbacks_served);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_refused_in_litellms_words() {
    let Some(proxy) = litellm_support::shared() else {
        return;
    };
    let error = client(&proxy.url, "sk-wrong").gateway().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("LiteLLM: "), "{error}");
}

/// The spend and tokens of deployment `id`, with the basis of the spend.
fn usage_of(gateway: &Gateway, id: &str) -> Option<DeploymentUsage> {
    let deployment = gateway.deployments.iter().find(|d| d.id == id)?;
    deployment.usage.clone()
}

/// Calls through the proxy show in the deployment's requests, tokens and spend: LiteLLM's own
/// count (gpt-4o-mini is in its cost map), or the tokens at the config's price.
#[tokio::test(flavor = "multi_thread")]
async fn calls_through_the_proxy_show_as_tokens_and_spend() {
    let Some(proxy) = litellm_support::shared() else {
        return;
    };
    let reported = client(&proxy.url, MASTER_KEY);
    let priced = client(&proxy.url, MASTER_KEY)
        .with_prices(BTreeMap::from([("openai/gpt-4o-mini".to_string(), 0.5)]));
    let before = reported.gateway().await.unwrap();
    let before = usage_of(&before, "small-us-east");
    for _ in 0..3 {
        assert_eq!(chat(&proxy.url, "small").await, 200);
    }
    // The proxy counts a call's tokens and spend after answering it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let read = reported.gateway().await.unwrap();
        let after = usage_of(&read, "small-us-east");
        let counted = |a: &DeploymentUsage| {
            let requests = before.as_ref().map_or(0.0, |b| b.requests);
            a.requests >= requests + 3.0 && a.output_tokens >= 3.0
        };
        if let Some(after) = after.filter(counted) {
            break after;
        }
        assert!(Instant::now() < deadline, "3 calls not counted: {read:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(after.basis, SpendBasis::Reported);
    let spent = after.spend - before.as_ref().map_or(0.0, |b| b.spend);
    // Each call: 1 token in at $0.15 and 1 out at $0.60 per million (LiteLLM's cost map).
    assert!(spent >= 3.0 * 0.75e-6 * 0.99, "spent {spent}: {after:?}");
    let tokens = after.tokens() - before.as_ref().map_or(0.0, |b| b.tokens());
    assert!(tokens >= 6.0, "two tokens a call: {after:?}");

    let read = priced.gateway().await.unwrap();
    let priced = usage_of(&read, "small-us-east").unwrap();
    assert_eq!(priced.basis, SpendBasis::Priced { per_1k_tokens: 0.5 });
    assert_eq!(priced.spend, priced.tokens() / 1000.0 * 0.5);
    let east = usage_of(&read, "gpt-4o-eu-west").map(|u| u.basis);
    assert_ne!(
        east,
        Some(SpendBasis::Priced { per_1k_tokens: 0.5 }),
        "another model keeps LiteLLM's count"
    );
}

/// The worker rates the spend from its reads: calls between two reads give a spend per hour.
#[tokio::test(flavor = "multi_thread")]
async fn the_worker_rates_spend_per_hour_from_two_reads() {
    let Some(proxy) = litellm_support::shared() else {
        return;
    };
    let settings = LiteLlmSettings {
        poll_interval: Duration::from_secs(1),
        prices: BTreeMap::from([("small-us-east".to_string(), 0.5)]),
        ..LiteLlmSettings::default()
    };
    let spec = LiteLlmSpec {
        name: "gateway".into(),
        url: proxy.url.clone(),
        master_key: Some(MASTER_KEY.into()),
        settings,
    };
    let (tx, mut rx) = mpsc::channel::<SourceMsg>(16);
    let (_stop, shutdown) = watch::channel(false);
    let worker = spawn_litellm(spec, tx, shutdown, SourceOptions::default());
    let deadline = Instant::now() + Duration::from_secs(60);
    let rate = loop {
        assert_eq!(chat(&proxy.url, "small").await, 200);
        let msg = tokio::time::timeout_at(deadline.into(), rx.recv()).await;
        let msg = msg.expect("a spend per hour within 60 s").unwrap();
        let SourceEvent::Gateway(facts) = msg.event else {
            continue;
        };
        let small = facts.deployments.iter().find(|d| d.id == "small-us-east");
        let rate = small.and_then(|d| d.usage.as_ref()?.spend_per_hour);
        if let Some(rate) = rate.filter(|r| *r > 0.0) {
            break rate;
        }
    };
    worker.abort();
    // Two tokens a call at $0.50 per 1k, about a call a read: some $3.6 an hour.
    assert!((0.5..100.0).contains(&rate), "{rate}");
}
