// Package rules is the statement of attribution.md as code: the vocabulary (attribution and
// incentive rows, association types, programs and tag rules, role eligibility, scopes) and
// Reference, which evaluates every rule directly for one usage record, slowly and obviously.
//
//   - Version 1 (microsoft records only): CSP, DPOR, CUA and PAL rows, the PEC and PAL
//     incentives (Reference.Record).
//   - Version 2 (records of every provider): TAG (a record's tags resolved through partner
//     identifiers by versioned tag rules), RESALE (accounts of other providers resold by a
//     location) and MARKETPLACE (the seller's publisher identifier); flat-rate programs on any
//     association type; tag values naming no location are data-quality warnings
//     (Reference.Warnings).
//
// The attribution engine (internal/attribution) is an optimisation that must equal these rules:
// its property tests compare it with Reference on random estates and usage of several
// providers, and explain uses the same vocabulary to say why a row exists or does not.
package rules
