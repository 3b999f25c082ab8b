package main

import (
	"context"
	"fmt"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/usage"
	"github.com/partnerlink/partnerlink/internal/whatif"
)

// The coverage audit and what-if of one partner over the period, on the SQLite import (issue
// 24: targets under 2 s and 5 s at the bench scale). Both read the period's stored usage, so
// each phase first measures reading it whole (usage.Stream: every column and the record keys,
// more than either reads), the peer its time is compared with, in the same process.
var auditPhases = []phaseDef{
	{"audit", "coverage audit of organisation " + benchPartner + " (audit.Run, SQLite)", false, phaseAudit},
	{"whatif", "what-if: the identity of " + benchPartner + "'s largest risk leaves (whatif.Run, SQLite)", false, phaseWhatif},
}

// benchPartner is the first organisation synth generates; at every scale it is present in
// (nearly) every customer tenant, so its audit reads the whole period's usage.
const benchPartner = "4100000"

// streamStored reads the period's stored usage and nothing else: the peer of both phases.
func streamStored(ctx context.Context, db *store.DB, c config) (secs float64, rows int64, err error) {
	w, _ := period(c)
	start := time.Now()
	err = usage.Stream(ctx, db.DB, w, func(b *usage.Batch) error {
		rows += int64(b.Len())
		return nil
	})
	return time.Since(start).Seconds(), rows, err
}

func phaseAudit(ctx context.Context, c config) (*result, error) {
	db, err := engines.Open(ctx, sqlitePath(c))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	peer, rows, err := streamStored(ctx, db, c)
	if err != nil {
		return nil, err
	}
	w, _ := period(c)
	defer usage.ReadGC()() // as `audit` runs
	start, cpu0 := time.Now(), cpuSeconds()
	rep, err := audit.Run(ctx, db, audit.Query{Partner: benchPartner, Period: w})
	if err != nil {
		return nil, err
	}
	r := &result{Seconds: time.Since(start).Seconds(), CPUSeconds: cpuSeconds() - cpu0, Rows: rows}
	r.Note = fmt.Sprintf("%d findings in %d tenants; reading the stored usage whole (usage.Stream: every column and the keys) took %.2f s (audit ÷ that: %.1f)",
		len(rep.Findings), len(rep.Tenants), peer, r.Seconds/peer)
	return r, nil
}

func phaseWhatif(ctx context.Context, c config) (*result, error) {
	db, err := engines.Open(ctx, sqlitePath(c))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w, _ := period(c)
	var runs int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM attribution_runs WHERE period_from = $1 AND period_to = $2 AND status = 'ok'`, w.From, w.To).Scan(&runs); err != nil {
		return nil, err
	}
	if runs == 0 { // what-if compares with a stored run: store one, untimed
		if _, err := results.Run(ctx, db, results.RunOptions{Period: w, RequestedBy: "bench"}); err != nil {
			return nil, err
		}
	}
	change, err := benchChange(ctx, db, c)
	if err != nil {
		return nil, err
	}
	peer, rows, err := streamStored(ctx, db, c)
	if err != nil {
		return nil, err
	}
	start, cpu0 := time.Now(), cpuSeconds()
	res, err := whatif.Run(ctx, db, whatif.Request{Period: w, Changes: []whatif.Change{change}, Caller: whatif.Caller{Operator: true}})
	if err != nil {
		return nil, err
	}
	r := &result{Seconds: time.Since(start).Seconds(), CPUSeconds: cpuSeconds() - cpu0, Rows: rows}
	changed := 0
	for _, x := range res.Rows {
		if x.Changed() {
			changed++
		}
	}
	r.Note = fmt.Sprintf("%s: %d rows change, %d audit entries; reading the stored usage whole (usage.Stream) took %.2f s (what-if ÷ that: %.1f)",
		change, changed, len(res.Audit), peer, r.Seconds/peer)
	return r, nil
}

// benchChange is "what happens when Jan leaves": the identity the partner's largest attrition
// risk rests on leaves (found by an audit, untimed).
func benchChange(ctx context.Context, db *store.DB, c config) (whatif.Change, error) {
	w, _ := period(c)
	rep, err := audit.Run(ctx, db, audit.Query{Partner: benchPartner, Period: w})
	if err != nil {
		return whatif.Change{}, err
	}
	for _, f := range rep.Findings {
		if f.Kind == audit.KindRisk {
			return whatif.Change{Op: whatif.OpRemovePrincipal, Tenant: f.TenantID, Object: f.PrincipalObjectID}, nil
		}
	}
	return whatif.Change{}, fmt.Errorf("organisation %s has no attrition risk to simulate", benchPartner)
}
