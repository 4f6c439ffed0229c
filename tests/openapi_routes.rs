//! The routes the lab serves are exactly the paths of `docs/openapi.yaml`, and exactly
//! protocol v1's endpoint table: nothing missing either way. And every one of them is really
//! routed: a started lab answers each with something other than its unknown-route `404` or
//! wrong-method `405`.

mod lab_support;

use std::collections::BTreeSet;

use protocol::endpoints::{self, Endpoint, Method};
use reqwest::StatusCode;

use lab_support::{client, send, start_lab};

/// The methods an OpenAPI path item may hold; its other members (`parameters`, ...) are not
/// operations.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

type Route = (String, String);

fn route(endpoint: &Endpoint) -> Route {
    (
        endpoint.method.as_str().to_string(),
        endpoint.path.to_string(),
    )
}

/// Every (method, path) of the spec's `paths`.
fn spec_routes() -> BTreeSet<Route> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let spec: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let paths = spec["paths"].as_mapping().expect("the spec has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let path = path.as_str().expect("a path is text").to_string();
            let methods = item.as_mapping().expect("a path item is a mapping");
            methods
                .keys()
                .filter_map(|method| method.as_str())
                .filter(|method| OPERATIONS.contains(method))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_lab_serves_exactly_the_spec_and_the_endpoint_table() {
    let spec = spec_routes();
    let served = lab::http::served_endpoints();
    let served_routes: BTreeSet<Route> = served.iter().map(route).collect();
    assert_eq!(
        served_routes.len(),
        served.len(),
        "no route is served twice"
    );
    let missing: Vec<_> = spec.difference(&served_routes).collect();
    let unspecified: Vec<_> = served_routes.difference(&spec).collect();
    assert!(
        missing.is_empty() && unspecified.is_empty(),
        "in the spec but not served: {missing:?}; served but not in the spec: {unspecified:?}"
    );
    let table: BTreeSet<Route> = endpoints::ALL.iter().map(route).collect();
    assert_eq!(table, spec, "protocol::endpoints::ALL is the spec's paths");
}

#[tokio::test]
async fn every_served_route_is_routed() {
    let lab = start_lab(1.0, None).await;
    for endpoint in lab::http::served_endpoints() {
        let url = format!("{}{}", lab.url(), endpoint.path_for("x"));
        let request = match endpoint.method {
            Method::Get => client().get(url),
            Method::Post => client().post(url),
        };
        // No token: a 401 proves the route exists as well as a 200 does.
        let status = send(request).await.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {} answers {status}",
            endpoint.method.as_str(),
            endpoint.path
        );
    }
    lab.shutdown().await;
}
