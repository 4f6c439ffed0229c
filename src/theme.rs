//! Colour themes: named styles for every state the views show.
//!
//! Themes are TOML files (`themes/NAME.toml`); `dark`, `light`, `high-contrast` and
//! `monochrome` are embedded so the binary works anywhere, and a user can add or
//! override themes in `<config dir>/themes/`. Every style is a table with optional
//! `fg` and `bg` (a colour name such as `light-red`, or `#rrggbb`) and `modifiers`
//! (`bold`, `dim`, `italic`, `underlined`, `reversed`, `crossed-out`).
//!
//! With `NO_COLOR` set (<https://no-color.org>), the monochrome theme is used: no
//! colours at all, states told apart by modifiers (the views also print symbol + word).

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::{Deserialize, Deserializer};

use crate::config::{DEFAULT_THEME, NAME_RULE, is_valid_name};
use protocol::sanitize::clean;

/// The theme used when `NO_COLOR` is set.
pub const MONOCHROME: &str = "monochrome";

/// The themes shipped inside the binary.
const EMBEDDED: [(&str, &str); 4] = [
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
    (MONOCHROME, include_str!("../themes/monochrome.toml")),
];

/// Declares [`Theme`], its file form, and the conversion, from one list of styles.
macro_rules! theme_styles {
    ($($(#[doc = $doc:literal])+ $field:ident,)+) => {
        /// Named styles for everything the views draw.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct Theme {
            /// The name it was loaded under.
            pub name: String,
            $($(#[doc = $doc])+ pub $field: Style,)+
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ThemeFile {
            $($field: StyleSpec,)+
        }

        impl ThemeFile {
            fn into_theme(self, name: &str) -> Theme {
                Theme {
                    name: name.to_string(),
                    $($field: self.$field.style(),)+
                }
            }
        }

        impl Theme {
            /// Every style with its key in the theme file (for previews and checks).
            pub fn styles(&self) -> Vec<(&'static str, Style)> {
                vec![$((stringify!($field), self.$field),)+]
            }
        }
    };
}

theme_styles! {
    /// Health: ok.
    health_ok,
    /// Health: degraded.
    health_degraded,
    /// Health: down.
    health_down,
    /// Health: unknown (no one can tell).
    health_unknown,
    /// Facts older than their freshness limit.
    stale,
    /// Circuit breaker open.
    breaker_open,
    /// Circuit breaker half-open (probing).
    breaker_half_open,
    /// Ordinary text.
    text,
    /// Secondary text (labels, hints).
    dim,
    /// Highlights (keys in hints, active tab).
    accent,
    /// The selected row.
    selection,
    /// Block and screen titles.
    title,
    /// Block borders.
    border,
    /// The status bar.
    status_bar,
    /// Error messages.
    error,
    /// Warnings.
    warning,
    /// Headroom bar with room to spare.
    headroom_ok,
    /// Headroom bar running low.
    headroom_low,
    /// Headroom bar past capacity.
    headroom_overloaded,
    /// Sparklines (latency, error rate).
    sparkline,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<ColorSpec>,
    bg: Option<ColorSpec>,
    #[serde(default)]
    modifiers: Vec<ModifierSpec>,
}

impl StyleSpec {
    fn style(&self) -> Style {
        let mut style = Style::new();
        if let Some(ColorSpec(fg)) = self.fg {
            style = style.fg(fg);
        }
        if let Some(ColorSpec(bg)) = self.bg {
            style = style.bg(bg);
        }
        self.modifiers.iter().fold(style, |style, modifier| {
            style.add_modifier(modifier.modifier())
        })
    }
}

struct ColorSpec(Color);

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Color::from_str(&text).map(ColorSpec).map_err(|_| {
            serde::de::Error::custom(format!(
                "unknown colour {text:?}: use a name such as red or light-blue, or #rrggbb"
            ))
        })
    }
}

/// Blinking and hidden text are left out on purpose: neither helps during an outage.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ModifierSpec {
    Bold,
    Dim,
    Italic,
    Underlined,
    Reversed,
    CrossedOut,
}

impl ModifierSpec {
    fn modifier(self) -> Modifier {
        match self {
            ModifierSpec::Bold => Modifier::BOLD,
            ModifierSpec::Dim => Modifier::DIM,
            ModifierSpec::Italic => Modifier::ITALIC,
            ModifierSpec::Underlined => Modifier::UNDERLINED,
            ModifierSpec::Reversed => Modifier::REVERSED,
            ModifierSpec::CrossedOut => Modifier::CROSSED_OUT,
        }
    }
}

/// Whether `NO_COLOR` asks for no colour (set and not empty, per no-color.org).
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// Loads theme `name` from the user themes dir or the embedded ones. An unknown or
/// bad theme falls back to `dark`, with a message saying why.
pub fn load(name: &str, no_color: bool) -> (Theme, Option<String>) {
    load_from(name, no_color, Some(&crate::config::paths().themes_dir))
}

/// [`load`] with the user themes dir passed in (`None`: embedded themes only).
pub fn load_from(name: &str, no_color: bool, user_dir: Option<&Path>) -> (Theme, Option<String>) {
    // Under NO_COLOR only the embedded monochrome theme is used, so no user file can
    // bring colours back.
    let found = if no_color {
        embedded(MONOCHROME)
    } else {
        find(name, user_dir)
    };
    match found {
        Ok(theme) => (theme, None),
        Err(problem) => {
            let fallback = embedded(DEFAULT_THEME).expect("the embedded default theme is valid");
            (
                fallback,
                Some(format!("{problem}; using the {DEFAULT_THEME} theme")),
            )
        }
    }
}

/// Names of the embedded themes.
pub fn embedded_names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(name, _)| *name)
}

fn find(name: &str, user_dir: Option<&Path>) -> Result<Theme, String> {
    if !is_valid_name(name) {
        return Err(format!(
            "theme name {:?} is not allowed: {NAME_RULE}",
            clean(name)
        ));
    }
    if let Some(dir) = user_dir {
        let path = dir.join(format!("{name}.toml"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return parse(name, &text)
                    .map_err(|reason| format!("{}: {reason}", path.display()));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        }
    }
    embedded(name)
}

fn embedded(name: &str) -> Result<Theme, String> {
    let (_, text) = EMBEDDED
        .iter()
        .find(|(embedded, _)| *embedded == name)
        .ok_or_else(|| {
            let known: Vec<_> = embedded_names().collect();
            format!(
                "unknown theme {name:?}; built-in themes: {}",
                known.join(", ")
            )
        })?;
    parse(name, text).map_err(|reason| format!("embedded theme {name}: {reason}"))
}

fn parse(name: &str, text: &str) -> Result<Theme, String> {
    toml::from_str::<ThemeFile>(text)
        .map(|file| file.into_theme(name))
        .map_err(|err| {
            let line = err
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = err.message().lines().collect::<Vec<_>>().join("; ");
            let message = clean(&message).into_owned();
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_colour(style: Style) -> bool {
        style.fg.is_some() || style.bg.is_some() || style.underline_color.is_some()
    }

    #[test]
    fn every_embedded_theme_parses() {
        for name in embedded_names() {
            let (theme, problem) = load_from(name, false, None);
            assert_eq!(problem, None, "{name}");
            assert_eq!(theme.name, name);
        }
    }

    #[test]
    fn colour_themes_tell_health_apart_by_colour() {
        for name in ["dark", "light", "high-contrast"] {
            let (theme, _) = load_from(name, false, None);
            let health = [
                theme.health_ok,
                theme.health_degraded,
                theme.health_down,
                theme.health_unknown,
            ];
            for (i, a) in health.iter().enumerate() {
                for b in &health[i + 1..] {
                    assert_ne!(a.fg, b.fg, "{name}: two health states share a colour");
                }
            }
        }
    }

    #[test]
    fn no_color_yields_no_colour_and_distinct_states() {
        let (theme, problem) = load_from("light", true, None);
        assert_eq!(problem, None);
        assert_eq!(theme.name, MONOCHROME);
        for (key, style) in theme.styles() {
            assert!(!has_colour(style), "{key} has a colour under NO_COLOR");
        }
        let states = [
            theme.health_ok,
            theme.health_degraded,
            theme.health_down,
            theme.health_unknown,
        ];
        for (i, a) in states.iter().enumerate() {
            for b in &states[i + 1..] {
                assert_ne!(a.add_modifier, b.add_modifier);
            }
        }
        assert_ne!(theme.breaker_open, theme.breaker_half_open);
        assert_ne!(theme.selection, theme.text);
    }

    #[test]
    fn unknown_theme_falls_back_to_dark_with_a_problem() {
        let (theme, problem) = load_from("solarized", false, None);
        assert_eq!(theme.name, "dark");
        let problem = problem.expect("a problem is reported");
        assert!(
            problem.contains("solarized") && problem.contains("high-contrast"),
            "{problem}"
        );
    }

    #[test]
    fn path_like_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (theme, problem) = load_from("../dark", false, Some(dir.path()));
        assert_eq!(theme.name, "dark");
        assert!(problem.unwrap().contains("not allowed"));
    }

    #[test]
    fn user_theme_is_found_and_a_bad_one_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = include_str!("../themes/dark.toml").to_string();
        std::fs::write(dir.path().join("mine.toml"), &text).unwrap();
        let (theme, problem) = load_from("mine", false, Some(dir.path()));
        assert_eq!((theme.name.as_str(), problem), ("mine", None));

        let line = text.lines().count() + 1;
        text.push_str("error = { fg = \"blurple\" }\n");
        std::fs::write(dir.path().join("mine.toml"), &text).unwrap();
        let (theme, problem) = load_from("mine", false, Some(dir.path()));
        assert_eq!(theme.name, "dark");
        let problem = problem.unwrap();
        assert!(problem.contains("mine.toml"), "{problem}");
        // A duplicate key is reported where it is; the colour check never runs.
        assert!(problem.contains(&format!("line {line}")), "{problem}");
    }

    #[test]
    fn bad_colour_is_named() {
        let text = include_str!("../themes/dark.toml").replacen("fg = \"", "fg = \"blurple", 1);
        let problem = parse("x", &text).unwrap_err();
        assert!(
            problem.contains("unknown colour") && problem.contains("blurple"),
            "{problem}"
        );
    }
}
