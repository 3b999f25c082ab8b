// Package attribution is the attribution engine: it applies the rules of attribution.md (PAL,
// CSP, DPOR, CUA; version 2's TAG, RESALE and MARKETPLACE; incentive programs) to a period's
// usage. The rules themselves are stated in internal/rules; this engine is an optimisation
// that must equal them (rules.Reference), which the property tests check.
//
//   - Compute is the pure core: a facts.Snapshot, programs, a period and a stream of usage
//     records in; attribution Rows and Incentive rows out, per record, in input order.
//   - Run loads the estate and the stored usage, replaces the period's rows atomically and
//     records the run (inputs hash, programs version, totals and their difference).
//   - Explain and ExplainSnapshot say why a location is or is not recognised.
//   - StoredRows, StoredIncentives and TableWriter serve the reports (formats.md columns).
//
// The engine builds a grant index from the snapshot once (its size depends on the estate only)
// and streams usage through it on GOMAXPROCS workers.
package attribution
