use super::*;

#[test]
fn plain_text_is_borrowed() {
    assert!(matches!(clean("us-east ok"), Cow::Borrowed(_)));
    assert!(matches!(clean_multiline("a\nb"), Cow::Borrowed(_)));
}

#[test]
fn csi_sequences_are_removed() {
    assert_eq!(clean("\u{1b}[31mred\u{1b}[0m text"), "red text");
    assert_eq!(clean("\u{1b}[2J\u{1b}[Hcleared"), "cleared");
    assert_eq!(clean("a\u{9b}31mb"), "ab");
}

#[test]
fn osc_and_dcs_strings_are_removed_whatever_their_terminator() {
    assert_eq!(clean("\u{1b}]0;pwned title\u{7}after"), "after");
    assert_eq!(
        clean("\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
        "link"
    );
    assert_eq!(clean("\u{1b}Pq#0;2;0;0;0\u{1b}\\x"), "x");
    assert_eq!(clean("\u{9d}52;c;AAAA\u{9c}ok"), "ok");
}

#[test]
fn controls_and_bidi_overrides_are_dropped() {
    assert_eq!(clean("a\u{7}b\u{8}c\rd\u{0}e"), "abcde");
    assert_eq!(clean("abc\u{202e}fed"), "abcfed");
    assert_eq!(clean("one\ntwo\tthree"), "one two three");
    assert_eq!(clean_multiline("one\ntwo\tthree"), "one\ntwo three");
}

#[test]
fn an_unterminated_escape_swallows_only_its_own_tail() {
    assert_eq!(clean("ok\u{1b}"), "ok");
    assert_eq!(clean("ok\u{1b}[12"), "ok");
    assert_eq!(clean("ok\u{1b}]title never ends"), "ok");
}

#[test]
fn truncation_marks_the_cut() {
    assert_eq!(truncate("abcdef", 4), "abc…");
    assert_eq!(truncate("abc", 4), "abc");
}

/// Every character that must never reach a terminal cell, by class.
const HOSTILE: &[char] = &[
    '\u{0}',
    '\u{7}',
    '\u{8}',
    '\r',
    '\u{b}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9b}',
    '\u{9c}',
    '\u{2028}',
    '\u{2029}', // line and paragraph separators
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{2060}',
    '\u{feff}',
    '\u{ad}',
    '\u{180e}', // zero-width, format
    '\u{202a}',
    '\u{202e}',
    '\u{2066}',
    '\u{2069}',
    '\u{200e}',
    '\u{200f}',
    '\u{61c}', // bidi
    '\u{fe0f}',
    '\u{fe00}',
    '\u{e0101}',
    '\u{e0041}',
    '\u{3164}',
    '\u{115f}',
    '\u{34f}', // ignorables
];

/// What the output of `clean` may never contain.
fn is_unsafe_for_a_cell(c: char) -> bool {
    c == '\n' || c == '\t' || HOSTILE.contains(&c) || c.is_control()
}

/// Strings mixing hostile characters, escape introducers and ordinary text, from a fixed seed
/// (a small xorshift: the protocol crate takes no test dependencies).
fn mixed_strings() -> impl Iterator<Item = String> {
    const ORDINARY: &[char] = &[
        'a', 'Z', '-', '[', ']', '\\', ';', 'm', 'é', 'ß', '東', '京', '🚀', '✓', ' ', '\n', '\t',
        'P', '_', '^',
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..5_000).map(move |_| {
        let len = (next() % 24) as usize;
        (0..len)
            .map(|_| {
                let pick = next() as usize;
                if pick.is_multiple_of(3) {
                    HOSTILE[pick / 3 % HOSTILE.len()]
                } else {
                    ORDINARY[pick / 3 % ORDINARY.len()]
                }
            })
            .collect()
    })
}

#[test]
fn line_separators_are_line_breaks_never_characters() {
    assert_eq!(
        clean("openai\u{2028}429 rate limited"),
        "openai 429 rate limited"
    );
    assert_eq!(clean("a\u{2029}b"), "a b");
    assert_eq!(clean_multiline("a\u{2028}b\u{2029}c"), "a\nb\nc");
}

#[test]
fn invisible_characters_cannot_make_look_alike_ids() {
    for invisible in [
        '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}', '\u{fe0f}',
    ] {
        assert_eq!(
            clean(&format!("us-west{invisible}")),
            "us-west",
            "{:?}",
            invisible
        );
        assert_eq!(
            clean(&format!("us{invisible}-west")),
            "us-west",
            "{:?}",
            invisible
        );
    }
}

#[test]
fn output_has_no_control_bidi_format_or_separator_character() {
    for text in mixed_strings() {
        for (cleaned, multiline) in [(clean(&text), false), (clean_multiline(&text), true)] {
            let bad = cleaned
                .chars()
                .find(|&c| is_unsafe_for_a_cell(c) && !(multiline && c == '\n'));
            assert_eq!(bad, None, "{text:?} cleaned to {cleaned:?}");
        }
    }
}

#[test]
fn cleaning_twice_changes_nothing() {
    for text in mixed_strings() {
        let once = clean(&text).into_owned();
        assert_eq!(clean(&once), once, "{text:?}");
        let once = clean_multiline(&text).into_owned();
        assert_eq!(clean_multiline(&once), once, "{text:?}");
    }
}

#[test]
fn ordinary_text_survives_unchanged() {
    for text in [
        "Zürich café naïve señor",
        "e\u{301}tude (combining accent)",
        "東京 リージョン 서울",
        "🚀 deploy ✓ 🔥",
        "Привет, мир",
        "مرحبا",
        "a\u{a0}b (no-break space)",
    ] {
        assert!(
            matches!(clean(text), Cow::Borrowed(_)),
            "{text:?} changed to {:?}",
            clean(text)
        );
    }
}
