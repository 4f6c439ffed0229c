//! Bearer-token authentication of the built-in operators, and role checks.
//!
//! Lab tokens are derived from the seed, so that a drill can be replayed with the same
//! tokens; anyone who knows the seed can compute them, which is why the lab is meant to
//! listen on loopback only.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::problem::ApiError;
use crate::BuiltinOperator;
use crate::topology::OperatorSpec;
use protocol::{Role, WhoAmI};

const CHALLENGE_MISSING: &str = "Bearer realm=\"switchboard-lab\"";
const CHALLENGE_INVALID: &str = "Bearer realm=\"switchboard-lab\", error=\"invalid_token\"";

/// The token of operator `name` in a lab started with `seed`: `sb_lab_<name>_<16 hex>`.
pub fn lab_token(seed: u64, name: &str) -> String {
    // Key: the seed, a domain tag, and an FNV-1a hash of the name, so that each operator's
    // token is independent of the others and of the simulation's random stream.
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(b"sb-token");
    let name_hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    key[16..24].copy_from_slice(&name_hash.to_le_bytes());
    key[24..32].copy_from_slice(&(name.len() as u64).to_le_bytes());
    let mut rng = ChaCha20Rng::from_seed(key);
    format!("sb_lab_{name}_{:016x}", rng.next_u64())
}

/// The tokens the lab accepts and whom they identify.
pub struct Credentials {
    holders: Vec<(String, WhoAmI)>,
}

impl Credentials {
    pub fn new(seed: u64, operators: &[OperatorSpec]) -> Credentials {
        Credentials {
            holders: operators
                .iter()
                .map(|o| {
                    let who = WhoAmI {
                        name: o.name.clone(),
                        role: o.role,
                    };
                    (lab_token(seed, &o.name), who)
                })
                .collect(),
        }
    }

    pub fn builtin_operators(&self) -> Vec<BuiltinOperator> {
        self.holders
            .iter()
            .map(|(token, who)| BuiltinOperator {
                name: who.name.clone(),
                role: who.role,
                token: token.clone(),
            })
            .collect()
    }

    /// Whom a token identifies. Compares every token in full, so the time taken does not
    /// tell how close a guess was.
    fn identify(&self, token: &str) -> Option<&WhoAmI> {
        let mut found = None;
        for (candidate, who) in &self.holders {
            if constant_time_eq(candidate.as_bytes(), token.as_bytes()) {
                found = Some(who);
            }
        }
        found
    }

    /// The caller named by the request's `Authorization: Bearer` header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<WhoAmI, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "this endpoint needs an Authorization: Bearer <token> header",
                CHALLENGE_MISSING,
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = token else {
            return Err(ApiError::unauthorized(
                "the Authorization header must use the Bearer scheme",
                CHALLENGE_MISSING,
            ));
        };
        self.identify(token).cloned().ok_or_else(|| {
            ApiError::unauthorized(
                "the bearer token is not valid for this lab",
                CHALLENGE_INVALID,
            )
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The least role an endpoint needs; see [`min_role`].
pub trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
}

/// Markers for [`Caller`]: `Caller<min_role::Operator>` admits operators and admins.
pub mod min_role {
    use super::{MinRole, Role};

    pub struct Viewer;
    pub struct Operator;
    pub struct Admin;

    impl MinRole for Viewer {
        const ROLE: Role = Role::Viewer;
    }
    impl MinRole for Operator {
        const ROLE: Role = Role::Operator;
    }
    impl MinRole for Admin {
        const ROLE: Role = Role::Admin;
    }
}

/// Extractor of an authenticated caller whose role is at least `R::ROLE`:
/// 401 without a valid token, 403 with too small a role.
pub struct Caller<R: MinRole = min_role::Viewer> {
    pub identity: WhoAmI,
    role: PhantomData<R>,
}

/// Checks that `who` may do what needs `needed`.
pub fn require_role(who: &WhoAmI, needed: Role) -> Result<(), ApiError> {
    if who.role >= needed {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} is a {}; this needs the {} role or higher",
            who.name,
            who.role.word(),
            needed.word()
        )))
    }
}

impl<S, R> FromRequestParts<S> for Caller<R>
where
    S: Send + Sync,
    Arc<Credentials>: FromRef<S>,
    R: MinRole,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let credentials = Arc::<Credentials>::from_ref(state);
        let identity = credentials.authenticate(&parts.headers)?;
        require_role(&identity, R::ROLE)?;
        Ok(Caller {
            identity,
            role: PhantomData,
        })
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
