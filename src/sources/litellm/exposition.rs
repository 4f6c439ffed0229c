//! The samples of a Prometheus text exposition (what `/metrics` answers): `name{label="value",
//! ...} value [timestamp]` lines; comments and malformed lines are skipped. Written here
//! rather than taken from a crate: the one available pulls a regex engine into the binary
//! for what is a few dozen lines.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Every well-formed sample of `text`, in order.
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(sample)
        .collect()
}

fn sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let (parsed, after) = label_set(inside)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y\"z"}` -> the labels and what follows the closing brace.
fn label_set(mut text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let equals = text.find('=')?;
        let name = text[..equals].trim().to_string();
        let quoted = text[equals + 1..].trim_start();
        if !quoted.starts_with('"') {
            return None;
        }
        let mut value = String::new();
        let mut escaped = false;
        let mut end = None;
        for (at, c) in quoted.char_indices().skip(1) {
            match (escaped, c) {
                (true, 'n') => value.push('\n'),
                (true, other) => value.push(other),
                (false, '\\') => {
                    escaped = true;
                    continue;
                }
                (false, '"') => {
                    end = Some(at);
                    break;
                }
                (false, other) => value.push(other),
            }
            escaped = false;
        }
        let end = end?;
        labels.insert(name, value);
        text = &quoted[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_labels_escapes_and_special_values() {
        let text = r#"# HELP litellm_deployment_state The state of the deployment
# TYPE litellm_deployment_state gauge
litellm_deployment_state{api_base="http://127.0.0.1:19101/v1",model_id="a"} 2.0
plain_total 7 1700000000000
quoted{note="say \"hi\"\nback\\slash",empty=""} +Inf
broken{unterminated="x} 1
{nameless="x"} 1
"#;
        let all = samples(text);
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[0].name, "litellm_deployment_state");
        assert_eq!(all[0].label("model_id"), Some("a"));
        assert_eq!(all[0].value, 2.0);
        assert_eq!(all[1].name, "plain_total");
        assert_eq!(all[1].value, 7.0);
        assert!(all[1].labels.is_empty());
        assert_eq!(all[2].label("note"), Some("say \"hi\"\nback\\slash"));
        assert_eq!(all[2].label("empty"), Some(""));
        assert_eq!(all[2].value, f64::INFINITY);
    }
}
