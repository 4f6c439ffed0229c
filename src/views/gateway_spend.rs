//! What a gateway's (LiteLLM's) deployment has served and spent since the proxy started, under
//! its breaker line: spend so far and where it comes from (LiteLLM's own count, or its tokens
//! at the config's price), per hour over the last reads, calls, tokens in and out.

use crate::domain::gateway::{GatewayDeployment, SpendBasis};
use crate::format::{money, thousands};

/// `  spend $0.0015 (LiteLLM) · $1.20/h · 2 calls · tokens 200 in, 100 out`; `None` before
/// the deployment's first call.
pub fn usage_text(deployment: &GatewayDeployment) -> Option<String> {
    let usage = deployment.usage.as_ref()?;
    let basis = match usage.basis {
        SpendBasis::Reported => "LiteLLM".to_string(),
        SpendBasis::Priced { per_1k_tokens } => {
            format!("config: {}/1k tokens", dollars(per_1k_tokens))
        }
    };
    let per_hour = usage
        .spend_per_hour
        .map_or("—/h (one read so far)".to_string(), |rate| {
            format!("{}/h", dollars(rate))
        });
    let count = |n: f64| thousands(n.max(0.0).round() as u64);
    Some(format!(
        "  spend {} ({basis}) · {per_hour} · {} calls · tokens {} in, {} out",
        dollars(usage.spend),
        count(usage.requests),
        count(usage.input_tokens),
        count(usage.output_tokens),
    ))
}

/// Money as everywhere (`crate::format::money`), but to four places below a cent: a few
/// calls cost fractions of one, which `$0.00` would hide.
fn dollars(amount: f64) -> String {
    if amount.is_finite() && amount != 0.0 && amount.abs() < 0.01 {
        format!("${amount:.4}")
    } else {
        money(Some(amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_keep_what_a_few_calls_cost() {
        assert_eq!(dollars(0.0015), "$0.0015");
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(12.345), "$12.35");
        assert_eq!(dollars(f64::NAN), "?");
    }
}
