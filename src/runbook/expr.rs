//! The condition language of runbooks: comparisons of one fleet fact against a value, joined
//! with `and`, `or`, `not` and parentheses.
//!
//! ```text
//! condition  := or
//! or         := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | "(" condition ")" | comparison
//! comparison := fact "(" target ")" operator value
//! operator   := "==" | "!=" | "<" | "<=" | ">" | ">=" | "has"
//! ```
//!
//! The facts, what they name and the values they take are in [`Fact`]. Written by hand
//! (recursive descent): the grammar is a dozen rules and the errors name the fact and its
//! expected values, which a combinator crate's generic errors would not.

use std::fmt;

use super::Position;

/// How deep parentheses and `not` may nest: a bound so no input can exhaust the stack.
const MAX_DEPTH: usize = 64;

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Comparison),
}

/// `fact(target) operator value`, e.g. `share(us-east) < 5%`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub fact: Fact,
    pub target: String,
    pub op: Op,
    pub value: Value,
}

/// What a comparison reads from the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// `health(region | provider | service) == ok | degraded | down`
    Health,
    /// `breaker(provider) == open | closed | half-open`
    Breaker,
    /// `share(region | provider) < 5%`: its part of the fleet's traffic.
    Share,
    /// `headroom(region | provider) >= 10%`: spare capacity (a provider's rate-limit headroom).
    Headroom,
    /// `p95(region | provider) < 800ms`
    P95,
    /// `error_rate(region | provider) > 2%`
    ErrorRate,
    /// `rate_limited(region | provider) > 1%`: the share of requests answered 429.
    RateLimited,
    /// `lag(service/replica) < 5s`: replication lag.
    Lag,
    /// `mode(service) has serve-cache`: the degraded modes in force.
    Mode,
    /// `open_escalations(p1) == 0`: escalations of that priority nobody resolved (`all` for any).
    OpenEscalations,
}

/// The kind of value a fact compares with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Percent,
    /// A latency, kept in milliseconds.
    Millis,
    /// A duration, kept in seconds.
    Seconds,
    Count,
    /// One of a few words, compared with `==` / `!=`.
    State(&'static [&'static str]),
    /// A set of words, asked with `has`.
    Set(&'static [&'static str]),
}

impl Fact {
    pub const ALL: [Fact; 10] = [
        Fact::Health,
        Fact::Breaker,
        Fact::Share,
        Fact::Headroom,
        Fact::P95,
        Fact::ErrorRate,
        Fact::RateLimited,
        Fact::Lag,
        Fact::Mode,
        Fact::OpenEscalations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fact::Health => "health",
            Fact::Breaker => "breaker",
            Fact::Share => "share",
            Fact::Headroom => "headroom",
            Fact::P95 => "p95",
            Fact::ErrorRate => "error_rate",
            Fact::RateLimited => "rate_limited",
            Fact::Lag => "lag",
            Fact::Mode => "mode",
            Fact::OpenEscalations => "open_escalations",
        }
    }

    pub fn value_kind(self) -> ValueKind {
        match self {
            Fact::Health => ValueKind::State(&["ok", "degraded", "down"]),
            Fact::Breaker => ValueKind::State(&["open", "closed", "half-open"]),
            Fact::Share | Fact::Headroom | Fact::ErrorRate | Fact::RateLimited => {
                ValueKind::Percent
            }
            Fact::P95 => ValueKind::Millis,
            Fact::Lag => ValueKind::Seconds,
            Fact::Mode => ValueKind::Set(&[
                "serve-cache",
                "fallback-model",
                "queue-non-urgent",
                "read-only",
                "human-only",
            ]),
            Fact::OpenEscalations => ValueKind::Count,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Has => "has",
        }
    }
}

/// The right-hand side: a number in the fact's unit (a fraction for percents) or a word.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number { value: f64, written: String },
    Word(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number { written, .. } => f.write_str(written),
            Value::Word(word) => f.write_str(word),
        }
    }
}

/// A condition that does not parse: where (in the file when embedded) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub at: Position,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Op(Op),
    Word(String),
}

/// A token and where it starts in the text (1-based, in characters).
type Located = (Token, Position);

/// Parses `text`; positions in errors count from `origin`, where the text starts in its file.
pub fn parse(text: &str, origin: Position) -> Result<Expr, ExprError> {
    let place = |at: Position| origin.advanced_by(at);
    let (tokens, end) = tokenize(text).map_err(|(at, message)| ExprError {
        at: place(at),
        message,
    })?;
    let mut parser = Parser {
        tokens,
        next: 0,
        end,
    };
    let expr = parser
        .or(0)
        .and_then(|expr| match parser.peek() {
            None => Ok(expr),
            Some((token, at)) => Err((
                *at,
                format!("expected `and`, `or` or the end, found {}", describe(token)),
            )),
        })
        .map_err(|(at, message)| ExprError {
            at: place(at),
            message,
        })?;
    Ok(expr)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '/' | '%')
}

fn tokenize(text: &str) -> Result<(Vec<Located>, Position), (Position, String)> {
    let mut tokens = Vec::new();
    let mut at = Position { line: 1, column: 1 };
    // "found the end" points just past the last token, on its line, not past trailing
    // whitespace (a fenced block's condition ends in a newline).
    let mut past_last_token = at;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let start = at;
        at = at.after(c);
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::Open,
            ')' => Token::Close,
            '=' | '!' | '<' | '>' => {
                let equals = chars.next_if_eq(&'=').is_some();
                if equals {
                    at = at.after('=');
                }
                match (c, equals) {
                    ('=', true) => Token::Op(Op::Eq),
                    ('!', true) => Token::Op(Op::Ne),
                    ('<', false) => Token::Op(Op::Lt),
                    ('<', true) => Token::Op(Op::Le),
                    ('>', false) => Token::Op(Op::Gt),
                    ('>', true) => Token::Op(Op::Ge),
                    _ => {
                        return Err((
                            start,
                            format!("`{c}` alone is no operator; write `==` or `!=`"),
                        ));
                    }
                }
            }
            c if is_word_char(c) => {
                let mut word = c.to_string();
                while let Some(next) = chars.next_if(|n| is_word_char(*n)) {
                    at = at.after(next);
                    word.push(next);
                }
                if word == "has" {
                    Token::Op(Op::Has)
                } else {
                    Token::Word(word)
                }
            }
            other => return Err((start, format!("unexpected character {other:?}"))),
        };
        tokens.push((token, start));
        past_last_token = at;
    }
    Ok((tokens, past_last_token))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::Op(op) => format!("`{}`", op.symbol()),
        Token::Word(word) => format!("`{word}`"),
    }
}

type Parsed<T> = Result<T, (Position, String)>;

struct Parser {
    tokens: Vec<Located>,
    next: usize,
    /// Just past the last character, where "found the end" errors point.
    end: Position,
}

impl Parser {
    fn peek(&self) -> Option<&Located> {
        self.tokens.get(self.next)
    }

    fn take(&mut self, wanted: &str) -> Parsed<Located> {
        match self.tokens.get(self.next) {
            Some(located) => {
                self.next += 1;
                Ok(located.clone())
            }
            None => Err((self.end, format!("expected {wanted}, found the end"))),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some((Token::Word(w), _)) if w == word);
        if found {
            self.next += 1;
        }
        found
    }

    fn or(&mut self, depth: usize) -> Parsed<Expr> {
        let mut left = self.and(depth)?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Parsed<Expr> {
        let mut left = self.unary(depth)?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Parsed<Expr> {
        if depth > MAX_DEPTH {
            let at = self.peek().map_or(self.end, |(_, at)| *at);
            return Err((at, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        if let Some((Token::Open, _)) = self.peek() {
            self.next += 1;
            let inner = self.or(depth + 1)?;
            return match self.take("`)`")? {
                (Token::Close, _) => Ok(inner),
                (other, at) => Err((at, format!("expected `)`, found {}", describe(&other)))),
            };
        }
        self.comparison().map(Expr::Compare)
    }

    fn comparison(&mut self) -> Parsed<Comparison> {
        const EXAMPLE: &str = "a comparison such as `share(us-east) < 5%`";
        let fact = match self.take(EXAMPLE)? {
            (Token::Word(name), at) => match Fact::ALL.iter().find(|f| f.name() == name) {
                Some(fact) => *fact,
                None => {
                    let known: Vec<_> = Fact::ALL.iter().map(|f| f.name()).collect();
                    return Err((
                        at,
                        format!("unknown fact `{name}`; known: {}", known.join(", ")),
                    ));
                }
            },
            (other, at) => {
                return Err((
                    at,
                    format!("expected {EXAMPLE}, found {}", describe(&other)),
                ));
            }
        };
        let name = fact.name();
        match self.take("`(`")? {
            (Token::Open, _) => {}
            (other, at) => {
                return Err((
                    at,
                    format!("expected `(` after `{name}`, found {}", describe(&other)),
                ));
            }
        }
        let target = match self.take("what to read, e.g. `us-east`")? {
            (Token::Word(target), _) => target,
            (other, at) => {
                return Err((
                    at,
                    format!("expected what `{name}` reads, found {}", describe(&other)),
                ));
            }
        };
        match self.take("`)`")? {
            (Token::Close, _) => {}
            (other, at) => {
                return Err((
                    at,
                    format!(
                        "expected `)` after `{name}({target}`, found {}",
                        describe(&other)
                    ),
                ));
            }
        }
        let (op, op_at) = match self.take("an operator")? {
            (Token::Op(op), at) => (op, at),
            (other, at) => {
                return Err((
                    at,
                    format!(
                        "expected an operator after `{name}({target})`, found {}",
                        describe(&other)
                    ),
                ));
            }
        };
        let (value, value_at) = match self.take("a value")? {
            (Token::Word(value), at) => (value, at),
            (other, at) => {
                return Err((at, format!("expected a value, found {}", describe(&other))));
            }
        };
        let kind = fact.value_kind();
        check_operator(kind, op).map_err(|why| (op_at, format!("`{name}` {why}")))?;
        let value =
            typed_value(kind, &value).map_err(|why| (value_at, format!("`{name}` {why}")))?;
        Ok(Comparison {
            fact,
            target,
            op,
            value,
        })
    }
}

fn check_operator(kind: ValueKind, op: Op) -> Result<(), String> {
    match (kind, op) {
        (ValueKind::Set(_), Op::Has) => Ok(()),
        (ValueKind::Set(_), _) => Err("is a set: ask it with `has`".into()),
        (_, Op::Has) => Err("is no set: compare it with `==`, `<` ...".into()),
        (ValueKind::State(_), Op::Eq | Op::Ne) => Ok(()),
        (ValueKind::State(_), _) => Err("is a state: compare it with `==` or `!=`".into()),
        _ => Ok(()),
    }
}

fn typed_value(kind: ValueKind, text: &str) -> Result<Value, String> {
    let word = || Value::Word(text.to_string());
    let number = |value: f64| Value::Number {
        value,
        written: text.to_string(),
    };
    let amount = |suffix: &str| -> Option<f64> {
        let digits = text.strip_suffix(suffix)?;
        let starts_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
        digits
            .parse::<f64>()
            .ok()
            .filter(|n| starts_numeric && n.is_finite())
    };
    match kind {
        ValueKind::State(words) | ValueKind::Set(words) => words
            .contains(&text)
            .then(word)
            .ok_or_else(|| format!("takes one of {}; `{text}` is none", words.join(", "))),
        ValueKind::Percent => amount("%")
            .map(|n| number(n / 100.0))
            .ok_or_else(|| format!("takes a percentage such as `5%`, not `{text}`")),
        ValueKind::Millis => amount("ms")
            .or_else(|| amount("s").map(|n| n * 1000.0))
            .map(number)
            .ok_or_else(|| format!("takes a latency such as `800ms` or `1.5s`, not `{text}`")),
        ValueKind::Seconds => amount("ms")
            .map(|n| n / 1000.0)
            .or_else(|| amount("s"))
            .or_else(|| amount("m").map(|n| n * 60.0))
            .map(number)
            .ok_or_else(|| format!("takes a duration such as `5s` or `2m`, not `{text}`")),
        ValueKind::Count => text
            .parse::<u32>()
            .map(|n| number(f64::from(n)))
            .map_err(|_| format!("takes a whole number such as `0`, not `{text}`")),
    }
}

impl fmt::Display for Expr {
    /// Written back in the grammar, fully parenthesised where operators mix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
            Expr::Not(inner) => write!(f, "not {inner}"),
            Expr::Compare(c) => write!(
                f,
                "{}({}) {} {}",
                c.fact.name(),
                c.target,
                c.op.symbol(),
                c.value
            ),
        }
    }
}
