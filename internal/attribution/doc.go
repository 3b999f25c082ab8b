// Package attribution is the attribution engine: it applies the rules of attribution.md (PAL,
// CSP, DPOR, CUA; version 2's TAG, RESALE and MARKETPLACE; incentive programs) to a period's
// usage. The rules themselves are stated in internal/rules; this engine is an optimisation
// that must equal them (rules.Reference), which the property tests check.
//
//   - Compute is the pure core: a facts.Snapshot, programs, a period and a stream of usage
//     records in; attribution Rows and Incentive rows out, per record, in input order.
//   - Explain and ExplainSnapshot say why a location is or is not recognised.
//   - TableWriter writes rows in formats.md's columns.
//
// Stored runs, their rows (reproduced on demand through Compute), rollups and restatement are
// package results (internal/attribution/results).
//
// The engine builds a grant index from the snapshot once (its size depends on the estate only)
// and streams usage through it on GOMAXPROCS workers.
package attribution
