//! The operators roster: who exists, and who is online (has an event stream open).

use super::topology::OperatorSpec;
use protocol::Operator;

pub struct Roster {
    operators: Vec<Operator>,
    /// Open event streams per operator, same index.
    open_streams: Vec<usize>,
}

impl Roster {
    pub fn new(specs: &[OperatorSpec]) -> Roster {
        Roster {
            operators: specs
                .iter()
                .map(|spec| Operator {
                    name: spec.name.clone(),
                    role: spec.role,
                    on_call: spec.on_call,
                    online: false,
                    claimed: Vec::new(),
                })
                .collect(),
            open_streams: vec![0; specs.len()],
        }
    }

    pub fn operators(&self) -> &[Operator] {
        &self.operators
    }

    /// Counts a stream opened by `name`; true when that brought the operator online.
    pub fn stream_opened(&mut self, name: &str) -> bool {
        self.adjust(name, true)
    }

    /// Counts a stream closed by `name`; true when that took the operator offline.
    pub fn stream_closed(&mut self, name: &str) -> bool {
        self.adjust(name, false)
    }

    fn adjust(&mut self, name: &str, opened: bool) -> bool {
        let Some(i) = self.operators.iter().position(|o| o.name == name) else {
            return false;
        };
        let count = &mut self.open_streams[i];
        *count = if opened {
            *count + 1
        } else {
            count.saturating_sub(1)
        };
        let online = *count > 0;
        let changed = self.operators[i].online != online;
        self.operators[i].online = online;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Role;

    #[test]
    fn online_while_any_stream_is_open() {
        let mut roster = Roster::new(&[OperatorSpec {
            name: "bob".into(),
            role: Role::Operator,
            on_call: true,
        }]);
        assert!(!roster.operators()[0].online);
        assert!(roster.stream_opened("bob"));
        assert!(
            !roster.stream_opened("bob"),
            "a second stream changes nothing"
        );
        assert!(!roster.stream_closed("bob"));
        assert!(roster.operators()[0].online);
        assert!(roster.stream_closed("bob"));
        assert!(!roster.operators()[0].online);
        assert!(
            !roster.stream_closed("bob"),
            "closing more than opened is harmless"
        );
        assert!(!roster.stream_opened("mallory"));
    }
}
