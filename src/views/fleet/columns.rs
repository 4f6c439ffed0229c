//! The matrix's columns: the region's own are all drawn at every width (they are what a
//! failover decision reads), and as many providers as fit beside them; the others are reached
//! by moving the selection, which scrolls them into view, and the border counts them.

use ratatui::layout::Constraint;

use crate::app::first_vendor_shown;

pub const REGION_HEADERS: [&str; 7] = ["REGION", "HEALTH", "P95", "ERR", "429", "SHARE", "ROOM"];
/// Widths of p95, errors, 429s, share and headroom: each holds its header and every value
/// `format::ms` and `format::pct` give down to -100 %; a wider one ends in `…`.
const STAT_WIDTHS: [u16; 5] = [5, 4, 4, 5, 5];
/// Health in words (`▲ degraded`, `⇣ drained`), or in the short words of the provider cells
/// (`▲ degr`), which the legend spells out, when that brings more providers into view.
const HEALTH_WORDS: u16 = 10;
const HEALTH_SHORT: u16 = 7;
/// The region name's column grows with the longest name up to this; longer ones end in `…`.
const MAX_NAME_WIDTH: u16 = 16;
/// A provider's cell holds `▲ limit`, `✖ open`, `? degr?`; its header ends in `…` if cut.
pub const MIN_PROVIDER_WIDTH: u16 = 7;
const MAX_PROVIDER_WIDTH: u16 = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns {
    pub name_width: u16,
    /// The health column uses whole words.
    pub health_words: bool,
    /// The first vendor drawn (index into the visible vendors) and how many are drawn.
    pub first_vendor: usize,
    pub shown: usize,
    pub vendors: usize,
    pub provider_width: u16,
}

impl Columns {
    /// Lays out a matrix `inner` columns wide whose longest region name is `longest_name`
    /// characters; the provider window starts at the operator's `scroll`, moved to keep the
    /// selected column (`0` the region, `1..` the vendors) in view.
    pub fn new(
        inner: u16,
        longest_name: usize,
        vendors: usize,
        scroll: usize,
        selected_col: usize,
    ) -> Columns {
        let name_width =
            (longest_name as u16).clamp(REGION_HEADERS[0].len() as u16, MAX_NAME_WIDTH);
        let fit = |health: u16| -> (usize, u16) {
            let fixed = name_width + health + STAT_WIDTHS.iter().sum::<u16>() + 7;
            // Each provider takes its width and a gap; the last one needs no gap.
            let room = inner.saturating_sub(fixed) + 1;
            let shown = usize::from(room / (MIN_PROVIDER_WIDTH + 1)).clamp(1, vendors.max(1));
            let width = (room / shown as u16)
                .saturating_sub(1)
                .clamp(MIN_PROVIDER_WIDTH, MAX_PROVIDER_WIDTH);
            (shown, width)
        };
        let mut health_words = true;
        let (mut shown, mut provider_width) = fit(HEALTH_WORDS);
        if shown < vendors {
            let short = fit(HEALTH_SHORT);
            if short.0 > shown {
                (shown, provider_width) = short;
                health_words = false;
            }
        }
        let shown = shown.min(vendors);
        Columns {
            name_width,
            health_words,
            first_vendor: first_vendor_shown(scroll, selected_col, shown, vendors),
            shown,
            vendors,
            provider_width,
        }
    }

    /// Widths of the region's own columns, in `REGION_HEADERS` order.
    pub fn region_widths(&self) -> [u16; 7] {
        let health = if self.health_words {
            HEALTH_WORDS
        } else {
            HEALTH_SHORT
        };
        let [p95, err, limited, share, room] = STAT_WIDTHS;
        [self.name_width, health, p95, err, limited, share, room]
    }

    /// The region's columns together, with the gap after each.
    pub fn region_span(&self) -> u16 {
        self.region_widths().iter().map(|w| w + 1).sum()
    }

    /// The visible vendors' indices drawn, left to right.
    pub fn drawn(&self) -> std::ops::Range<usize> {
        self.first_vendor..self.first_vendor + self.shown
    }

    pub fn hidden_left(&self) -> usize {
        self.first_vendor
    }

    pub fn hidden_right(&self) -> usize {
        self.vendors.saturating_sub(self.first_vendor + self.shown)
    }

    pub fn constraints(&self) -> Vec<Constraint> {
        self.region_widths()
            .into_iter()
            .map(Constraint::Length)
            .chain(
                self.drawn()
                    .map(|_| Constraint::Length(self.provider_width)),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(c: &Columns) -> u16 {
        c.region_span() + c.shown as u16 * (c.provider_width + 1) - 1
    }

    #[test]
    fn the_columns_fit_every_width_from_80() {
        for inner in 78..=400 {
            for vendors in [1, 4, 12, 40] {
                for name in [7, 12, 30] {
                    let c = Columns::new(inner, name, vendors, 0, 0);
                    assert!(total(&c) <= inner, "{inner} {vendors} {name}: {c:?}");
                    assert!(c.shown >= 1 && c.shown <= vendors);
                    assert_eq!(c.hidden_left() + c.shown + c.hidden_right(), vendors);
                }
            }
        }
    }

    #[test]
    fn short_health_words_only_when_they_bring_in_more_providers() {
        // The default fleet at 80 columns: all four providers with short words.
        let narrow = Columns::new(78, 8, 4, 0, 0);
        assert_eq!((narrow.shown, narrow.health_words), (4, false));
        let wide = Columns::new(118, 8, 4, 0, 0);
        assert_eq!((wide.shown, wide.health_words), (4, true));
    }

    #[test]
    fn the_window_follows_the_selected_provider() {
        let c = Columns::new(118, 12, 12, 0, 12);
        assert_eq!(c.hidden_right(), 0);
        assert_eq!(c.drawn().end, 12);
        let back = Columns::new(118, 12, 12, c.first_vendor, 1);
        assert_eq!(back.first_vendor, 0);
    }
}
