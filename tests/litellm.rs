//! The LiteLLM client against a real LiteLLM proxy (tests/litellm_support) in front of fake
//! upstreams the test makes fail: deployments with their regions, fallbacks, and the
//! cooldowns and fallbacks served that failures cause; a wrong key is refused in LiteLLM's words.

mod litellm_support;

use std::collections::BTreeMap;

use litellm_support::{MASTER_KEY, chat};
use switchboard::sources::litellm::{DeploymentState, LiteLlmClient};
use switchboard::sources::{ClientError, Timeouts};

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
