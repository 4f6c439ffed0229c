//! The fleet's rows and columns that pass the filter (regions, provider vendors, services).
//! Recomputed in `update` when data or the filter change, so views only read it.

use nucleo::pattern::{CaseMatching, Normalization, Pattern};

use super::App;
use crate::domain::fleet::Connection;
use protocol::Provider;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionRow {
    pub source: usize,
    pub region: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceRow {
    pub source: usize,
    pub service: usize,
}

/// A region only a metrics source reads: `region` indexes its `measured.regions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasuredRow {
    pub source: usize,
    pub region: usize,
}

/// The fleet and services views' rows (and the matrix's columns) that pass the filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VisibleRows {
    pub regions: Vec<RegionRow>,
    /// Provider vendors shown as matrix columns, in the order sources list them.
    pub vendors: Vec<String>,
    pub services: Vec<ServiceRow>,
    /// Regions that only a metrics source reads (no protocol v1 source lists them): shown
    /// under the others with the facts read, for reading only.
    pub measured_only: Vec<MeasuredRow>,
    /// The filter matched nothing in the fleet matrix, so it shows everything.
    pub fleet_filter_unmatched: bool,
}

impl VisibleRows {
    /// Rows of the fleet matrix: the regions, then those only a metrics source reads.
    pub fn fleet_rows(&self) -> usize {
        self.regions.len() + self.measured_only.len()
    }
}

/// What a matrix cell holds.
pub enum ProviderCell<'a> {
    /// The vendor has no endpoint in that region.
    Absent,
    Present(&'a Provider),
}

impl App {
    pub(super) fn refresh_visible(&mut self) {
        let pattern = (!self.filter.query.is_empty()).then(|| {
            Pattern::parse(
                &self.filter.query,
                CaseMatching::Smart,
                Normalization::Smart,
            )
        });
        let mut matches = |text: &str| match &pattern {
            None => true,
            Some(p) => {
                let mut buf = Vec::new();
                p.score(nucleo::Utf32Str::new(text, &mut buf), &mut self.matcher)
                    .is_some()
            }
        };

        let mut all_regions = Vec::new();
        let mut matching_regions = Vec::new();
        let mut all_vendors: Vec<String> = Vec::new();
        let mut services = Vec::new();
        for (source, data) in self.sources.iter().enumerate() {
            let Some(snapshot) = &data.snapshot else {
                continue;
            };
            for (region, r) in snapshot.regions.iter().enumerate() {
                let row = RegionRow { source, region };
                // One row per region, whichever protocol v1 sources report it (its detail
                // shows each one's facts); its cells follow the first live one.
                let held = all_regions.iter().position(|held: &RegionRow| {
                    let snapshot = self.sources[held.source].snapshot.as_ref();
                    snapshot.is_some_and(|x| x.regions[held.region].id == r.id)
                });
                match held {
                    None => {
                        all_regions.push(row);
                        if matches(&r.id) {
                            matching_regions.push(row);
                        }
                    }
                    Some(at)
                        if self.sources[all_regions[at].source].connection != Connection::Live
                            && data.connection == Connection::Live =>
                    {
                        let replaced = all_regions[at];
                        all_regions[at] = row;
                        for held in matching_regions.iter_mut().filter(|h| **h == replaced) {
                            *held = row;
                        }
                    }
                    Some(_) => {}
                }
            }
            for p in &snapshot.providers {
                if !all_vendors.contains(&p.vendor) {
                    all_vendors.push(p.vendor.clone());
                }
            }
            for (service, s) in snapshot.services.iter().enumerate() {
                if !matches(&s.id) {
                    continue;
                }
                let row = ServiceRow { source, service };
                // One row per service, whichever sources report it (its pane shows each
                // one's facts); a protocol v1 source's row over a Patroni cluster's, which
                // knows members but no load, modes or routes.
                let held = services.iter().position(|held: &ServiceRow| {
                    let snapshot = self.sources[held.source].snapshot.as_ref();
                    snapshot.is_some_and(|x| x.services[held.service].id == s.id)
                });
                match held {
                    None => services.push(row),
                    Some(at)
                        if self.sources[services[at].source].patroni.is_some()
                            && data.patroni.is_none() =>
                    {
                        services[at] = row
                    }
                    Some(_) => {}
                }
            }
        }
        let native_ids: Vec<&str> = (all_regions.iter())
            .map(|row: &RegionRow| {
                let snapshot = self.sources[row.source].snapshot.as_ref();
                snapshot.map_or("", |s| s.regions[row.region].id.as_str())
            })
            .collect();
        let mut measured_only = Vec::new();
        for (source, data) in self.sources.iter().enumerate() {
            let Some(measured) = &data.measured else {
                continue;
            };
            for (region, r) in measured.regions.iter().enumerate() {
                let known = native_ids.contains(&r.id.as_str())
                    || measured_only.iter().any(|m: &MeasuredRow| {
                        self.sources[m.source]
                            .measured
                            .as_ref()
                            .map(|x| &x.regions[m.region].id)
                            == Some(&r.id)
                    });
                if !known && matches(&r.id) {
                    measured_only.push(MeasuredRow { source, region });
                    let vendors = measured.providers.iter().filter(|p| p.region == r.id);
                    for p in vendors {
                        if !all_vendors.contains(&p.vendor) {
                            all_vendors.push(p.vendor.clone());
                        }
                    }
                }
            }
        }
        let matching_vendors: Vec<String> =
            all_vendors.iter().filter(|v| matches(v)).cloned().collect();

        // A query that names a region narrows rows, one that names a vendor narrows columns.
        let unmatched =
            pattern.is_some() && matching_regions.is_empty() && matching_vendors.is_empty();
        self.visible = VisibleRows {
            regions: if matching_regions.is_empty() {
                all_regions
            } else {
                matching_regions
            },
            vendors: if matching_vendors.is_empty() {
                all_vendors
            } else {
                matching_vendors
            },
            services,
            measured_only,
            fleet_filter_unmatched: unmatched,
        };
        self.clamp_selection();
    }

    fn clamp_selection(&mut self) {
        let sel = &mut self.selection;
        sel.fleet_row = sel
            .fleet_row
            .min(self.visible.fleet_rows().saturating_sub(1));
        sel.fleet_col = sel.fleet_col.min(self.visible.vendors.len());
        sel.service_row = sel
            .service_row
            .min(self.visible.services.len().saturating_sub(1));
        sel.timeline_row = sel.timeline_row.min(self.timeline.len().saturating_sub(1));
    }

    pub fn region_at(&self, row: RegionRow) -> &protocol::Region {
        &self.sources[row.source]
            .snapshot
            .as_ref()
            .expect("visible rows come from snapshots")
            .regions[row.region]
    }

    pub fn service_at(&self, row: ServiceRow) -> &protocol::Service {
        &self.sources[row.source]
            .snapshot
            .as_ref()
            .expect("visible rows come from snapshots")
            .services[row.service]
    }

    /// The vendor's provider in the row's region, as the row's first source with it reports.
    pub fn provider_cell(&self, row: RegionRow, vendor: &str) -> ProviderCell<'_> {
        match self.provider_reports(row, vendor).first() {
            Some(&(_, provider)) => ProviderCell::Present(provider),
            None => ProviderCell::Absent,
        }
    }

    /// Every protocol v1 source's report of the row's region: the row's own first, then the
    /// others in the config's order.
    pub fn region_reports(&self, row: RegionRow) -> Vec<RegionRow> {
        let id = &self.region_at(row).id;
        let others = self
            .sources
            .iter()
            .enumerate()
            .filter_map(|(source, data)| {
                let region = (data.snapshot.as_ref())?
                    .regions
                    .iter()
                    .position(|r| &r.id == id)?;
                (source != row.source).then_some(RegionRow { source, region })
            });
        std::iter::once(row).chain(others).collect()
    }

    /// Each source's report of the vendor's provider in the row's region, in the order of
    /// [`App::region_reports`].
    pub fn provider_reports(&self, row: RegionRow, vendor: &str) -> Vec<(usize, &Provider)> {
        let region = &self.region_at(row).id;
        (self.region_reports(row).into_iter())
            .filter_map(|report| {
                let snapshot = self.sources[report.source].snapshot.as_ref()?;
                let provider = (snapshot.providers.iter())
                    .find(|p| p.vendor == vendor && &p.region == region)?;
                Some((report.source, provider))
            })
            .collect()
    }

    /// The selected matrix row, if the matrix has any.
    pub fn selected_region(&self) -> Option<RegionRow> {
        self.visible.regions.get(self.selection.fleet_row).copied()
    }

    /// The selected matrix row when it is a region only a metrics source reads.
    pub fn selected_measured(&self) -> Option<MeasuredRow> {
        let below = self
            .selection
            .fleet_row
            .checked_sub(self.visible.regions.len())?;
        self.visible.measured_only.get(below).copied()
    }

    /// The region or provider selected in a row only a metrics source reads, with its source.
    pub(super) fn selected_measured_target(
        &self,
    ) -> Option<(usize, crate::domain::command::Target)> {
        use crate::domain::command::Target;
        let row = self.selected_measured()?;
        let measured = self.sources[row.source].measured.as_ref()?;
        let region = &measured.regions[row.region].id;
        let target = match self.selection.fleet_col.checked_sub(1) {
            None => Target::Region(region.clone()),
            Some(v) => {
                let id = format!("{}@{region}", self.visible.vendors.get(v)?);
                measured.provider(&id)?;
                Target::Provider(id)
            }
        };
        Some((row.source, target))
    }

    pub fn selected_service(&self) -> Option<ServiceRow> {
        self.visible
            .services
            .get(self.selection.service_row)
            .copied()
    }
}
