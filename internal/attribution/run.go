package attribution

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// RunOptions are the inputs of one run.
type RunOptions struct {
	Period      timeline.Window // usage records whose charge period starts in [From, To)
	Programs    *Programs       // nil = the shipped default
	RequestedBy string
	Now         func() time.Time
	// Snapshot, when set, is used instead of loading the estate from the database (tests and
	// what-if runs).
	Snapshot *facts.Snapshot
	// UsageFiles, when set, are read instead of the stored usage and nothing is written: a
	// what-if run.
	UsageFiles []string
	UsageRead  usage.ReadOptions
	// DryRun computes and reports without writing.
	DryRun bool
}

// Totals are amounts per location, association (or program) and currency, as decimal strings.
type Totals map[string]map[string]map[string]string

// RunResult describes a finished run.
type RunResult struct {
	RunID           string `json:"run_id,omitempty"`
	From            string `json:"from"`
	To              string `json:"to"`
	Stored          bool   `json:"stored"`
	InputsHash      string `json:"inputs_hash"`
	ProgramsVersion string `json:"programs_version"`
	Stats           Stats  `json:"stats"`
	Totals          Totals `json:"totals"`
	Diff            Totals `json:"diff"`
	PreviousRunID   string `json:"previous_run_id,omitempty"`
}

var attributionCols = []string{"record_key", "location_id", "association", "org_id", "charge_start", "charge_end", "tenant_id",
	"subscription_id", "resource_id", "service", "currency", "cost_nanos", "coverage_nanos", "amount_nanos", "admin_role",
	"duplicate_at_org", "run_id"}

var incentiveCols = []string{"record_key", "location_id", "program", "org_id", "program_version", "charge_start", "currency",
	"amount_nanos", "run_id"}

const insertBatch = 2000

type totaller map[string]map[string]map[string]money.Nanos

func (t totaller) add(loc, assoc, cur string, n money.Nanos) {
	a := t[loc]
	if a == nil {
		a = map[string]map[string]money.Nanos{}
		t[loc] = a
	}
	c := a[assoc]
	if c == nil {
		c = map[string]money.Nanos{}
		a[assoc] = c
	}
	c[cur] += n
}

func (t totaller) strings() Totals {
	out := Totals{}
	for loc, a := range t {
		out[loc] = map[string]map[string]string{}
		for assoc, c := range a {
			out[loc][assoc] = map[string]string{}
			for cur, n := range c {
				out[loc][assoc][cur] = n.String()
			}
		}
	}
	return out
}

func parseTotals(t Totals) totaller {
	out := totaller{}
	for loc, a := range t {
		for assoc, c := range a {
			for cur, s := range c {
				n, _ := money.Parse(s)
				out.add(loc, assoc, cur, n)
			}
		}
	}
	return out
}

// diffTotals is new − old for every key where they differ.
func diffTotals(newT, oldT totaller) Totals {
	d := totaller{}
	for loc, a := range newT {
		for assoc, c := range a {
			for cur, n := range c {
				if m := n - oldT[loc][assoc][cur]; m != 0 {
					d.add(loc, assoc, cur, m)
				}
			}
		}
	}
	for loc, a := range oldT {
		for assoc, c := range a {
			for cur, n := range c {
				if _, ok := newT[loc][assoc][cur]; !ok && n != 0 {
					d.add(loc, assoc, cur, -n)
				}
			}
		}
	}
	return d.strings()
}

func hashRecord(h hash.Hash, r *usage.Record) {
	var b [8]byte
	for _, s := range []string{r.Key, r.SubscriptionID, r.ResourceID, r.Service, r.ChargeCategory, r.PricingCategory,
		r.CommitmentDiscountID, r.Provider, r.Publisher, r.Currency} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, n := range []int64{r.Start, r.End, int64(r.Cost)} {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
}

// Run attributes a period: it loads the estate, streams the period's stored usage through the
// engine and, in one transaction, replaces the period's attributions, incentives and daily
// rollups and records the run with its totals and their difference from the previous run of
// the same period.
func Run(ctx context.Context, db *store.DB, opts RunOptions) (*RunResult, error) {
	if opts.Period.Empty() {
		return nil, fmt.Errorf("period %s is empty: --from must be before --to", opts.Period)
	}
	progs := opts.Programs
	if progs == nil {
		progs = DefaultPrograms()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	started := now()
	snap := opts.Snapshot
	if snap == nil {
		var err error
		if snap, err = loadFacts(ctx, db.DB, opts.Period); err != nil {
			return nil, fmt.Errorf("loading the estate for %s: %w", opts.Period, err)
		}
	}
	ih := sha256.New()
	if err := json.NewEncoder(ih).Encode(snap); err != nil {
		return nil, err
	}
	fmt.Fprintf(ih, "%d %d %s\n", opts.Period.From, opts.Period.To, progs.Hash)
	res := &RunResult{From: timeline.Format(opts.Period.From), To: timeline.Format(opts.Period.To), ProgramsVersion: progs.Version}
	totals := totaller{}
	// The inputs hash covers every record: a stored batch by its segment's hash, a batch read
	// from a file record by record.
	source := func(yield func(*usage.Batch) error) error {
		wrap := func(b *usage.Batch) error {
			if b.Source != "" {
				fmt.Fprintf(ih, "segment %s\n", b.Source)
			} else {
				var r usage.Record
				for i := 0; i < b.Len(); i++ {
					b.Record(i, &r)
					hashRecord(ih, &r)
				}
			}
			return yield(b)
		}
		if len(opts.UsageFiles) > 0 {
			return usage.ReadFileBatches(ctx, opts.UsageFiles, opts.UsageRead, 8192, wrap)
		}
		return usage.Stream(ctx, db.DB, opts.Period, wrap)
	}
	count := func(rows []Row, incs []Incentive) {
		for _, r := range rows {
			totals.add(r.LocationID, r.Association, r.Currency, r.Amount)
		}
		for _, i := range incs {
			totals.add(i.LocationID, "incentive:"+i.Program, i.Currency, i.Amount)
		}
	}
	finish := func(st *Stats) {
		res.Stats = *st
		res.InputsHash = hex.EncodeToString(ih.Sum(nil))
		res.Totals = totals.strings()
	}
	if opts.DryRun || len(opts.UsageFiles) > 0 {
		// Nothing is written, so only the totals are needed.
		st, sums, err := ComputeSums(ctx, snap, progs, opts.Period, source)
		if err != nil {
			return nil, err
		}
		for _, x := range sums {
			totals.add(x.LocationID, x.Association, x.Currency, x.Amount)
		}
		finish(st)
		res.Diff = Totals{}
		return res, nil
	}

	prevID, prev, err := previousTotals(ctx, db.DB, opts.Period)
	if err != nil {
		return nil, db.Translate(err)
	}
	runID := store.NewID()
	res.RunID, res.Stored = runID, true
	err = db.Load(ctx, func(l store.Loader) error {
		for _, t := range []string{"attributions", "incentives"} {
			if _, err := l.Exec(ctx, "DELETE FROM "+t+" WHERE charge_start >= $1 AND charge_start < $2", opts.Period.From, opts.Period.To); err != nil {
				return err
			}
		}
		var arows, irows [][]any
		flush := func(force bool) error {
			if len(arows) >= insertBatch || (force && len(arows) > 0) {
				if _, err := l.Insert(ctx, "attributions", attributionCols, arows, false); err != nil {
					return err
				}
				arows = arows[:0]
			}
			if len(irows) >= insertBatch || (force && len(irows) > 0) {
				if _, err := l.Insert(ctx, "incentives", incentiveCols, irows, false); err != nil {
					return err
				}
				irows = irows[:0]
			}
			return nil
		}
		st, err := Compute(ctx, snap, progs, opts.Period, source, func(_ *usage.Batch, _ int, rows []Row, incs []Incentive) error {
			count(rows, incs)
			for _, r := range rows {
				arows = append(arows, []any{r.RecordKey, r.LocationID, r.Association, r.OrgID, r.Start, r.End, r.TenantID,
					r.SubscriptionID, r.ResourceID, r.Service, r.Currency, int64(r.Cost), r.Coverage, int64(r.Amount), r.AdminRole,
					r.DuplicateAtOrg, runID})
			}
			for _, i := range incs {
				irows = append(irows, []any{i.RecordKey, i.LocationID, i.Program, i.OrgID, i.ProgramVersion, i.Start, i.Currency,
					int64(i.Amount), runID})
			}
			return flush(false)
		})
		if err != nil {
			return err
		}
		if err := flush(true); err != nil {
			return err
		}
		finish(st)
		if err := rebuildRollups(ctx, l, opts.Period); err != nil {
			return err
		}
		res.PreviousRunID = prevID
		res.Diff = diffTotals(totals, parseTotals(prev))
		tj, _ := json.Marshal(res.Totals)
		dj, _ := json.Marshal(map[string]any{"previous_run_id": prevID, "changes": res.Diff})
		_, err = l.Exec(ctx, `INSERT INTO attribution_runs (id, period_from, period_to, started_at, finished_at, requested_by,
			inputs_hash, programs_version, attribution_rows, incentive_rows, totals, diff, status)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			runID, opts.Period.From, opts.Period.To, started.UnixNano(), now().UnixNano(), opts.RequestedBy, res.InputsHash,
			progs.Version+"@"+progs.Hash[:12], st.Rows, st.Incentives, string(tj), string(dj), "ok")
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// rebuildRollups recomputes the daily rollups of every UTC day the period touches from the
// stored rows (so a period that is not day-aligned never clobbers its neighbours' part of a
// day).
func rebuildRollups(ctx context.Context, l store.Loader, p timeline.Window) error {
	from, to := floorDay(p.From), floorDay(p.To-1)+day
	if _, err := l.Exec(ctx, `DELETE FROM rollup_daily WHERE day >= $1 AND day < $2`, from, to); err != nil {
		return err
	}
	_, err := l.Exec(ctx, `INSERT INTO rollup_daily (day, location_id, org_id, association, tenant_id, subscription_id, service,
		admin_role, currency, amount_nanos, org_amount_nanos, records)
		SELECT charge_start - (charge_start % 86400000000000), location_id, MIN(org_id), association, tenant_id, subscription_id, service,
			admin_role, currency, SUM(amount_nanos), SUM(CASE WHEN duplicate_at_org THEN 0 ELSE amount_nanos END), COUNT(*)
		FROM attributions WHERE charge_start >= $1 AND charge_start < $2
		GROUP BY charge_start - (charge_start % 86400000000000), location_id, association, tenant_id, subscription_id, service, admin_role, currency`,
		from, to)
	return err
}

// previousTotals reads the totals of the latest run of the same period ("" if none).
func previousTotals(ctx context.Context, q store.Querier, p timeline.Window) (string, Totals, error) {
	var id, tj string
	err := q.QueryRowContext(ctx, `SELECT id, totals FROM attribution_runs WHERE period_from = $1 AND period_to = $2 AND status = 'ok'
		ORDER BY finished_at DESC, id DESC LIMIT 1`, p.From, p.To).Scan(&id, &tj)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Totals{}, nil
	}
	if err != nil {
		return "", nil, err
	}
	var t Totals
	if err := json.Unmarshal([]byte(tj), &t); err != nil {
		return "", nil, fmt.Errorf("run %s has unreadable totals: %w", id, err)
	}
	return id, t, nil
}
