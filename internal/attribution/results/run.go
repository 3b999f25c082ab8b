package results

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/metrics"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// RunOptions are the inputs of one run.
type RunOptions struct {
	Period      timeline.Window       // usage records whose charge period starts in [From, To)
	Programs    *attribution.Programs // nil = the shipped default
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
	// Shard, when set, computes one shard of a sharded run (see Shard); the last shard to
	// finish stores the run.
	Shard *Shard
	// Waiting, when set, is called once if the run must wait for another run to finish.
	Waiting func()
	// RewriteSegments writes every rollup segment of the period again, as if each had
	// changed, where a run otherwise keeps those stored with the same bytes (stale.go): the
	// worst case of a restatement, which the benchmark measures. Not for sharded runs.
	RewriteSegments bool
}

// Totals are amounts per location, association (or program) and currency, as decimal strings.
type Totals map[string]map[string]map[string]string

// RunResult describes a finished run.
type RunResult struct {
	RunID           string            `json:"run_id,omitempty"`
	From            string            `json:"from"`
	To              string            `json:"to"`
	Stored          bool              `json:"stored"`
	InputsHash      string            `json:"inputs_hash"`
	ProgramsVersion string            `json:"programs_version"`
	Stats           attribution.Stats `json:"stats"`
	Totals          Totals            `json:"totals"`
	Diff            Totals            `json:"diff"`
	PreviousRunID   string            `json:"previous_run_id,omitempty"`
}

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
	if _, ok := c[cur]; !ok {
		cur = strings.Clone(cur) // not the usage batch's dictionary, which it would keep alive
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

func hashRecord(h io.Writer, r *usage.Record) {
	var b [8]byte
	// Every field a rule reads: version 2's TAG, RESALE and MARKETPLACE read the provider ID,
	// the host provider, the billing account and the tags too.
	for _, s := range []string{r.Key, r.SubscriptionID, r.ResourceID, r.Service, r.ChargeCategory, r.PricingCategory,
		r.CommitmentDiscountID, r.Provider, r.Publisher, r.Currency,
		r.ProviderID, r.HostProvider, r.BillingAccountID, r.SubAccountType, r.Tags} {
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
func Run(ctx context.Context, db *store.DB, opts RunOptions) (_ *RunResult, runErr error) {
	defer func(start time.Time) { metrics.AttributionRunDone(time.Since(start), runErr) }(time.Now())
	if opts.Period.Empty() {
		return nil, fmt.Errorf("period %s is empty: --from must be before --to", opts.Period)
	}
	progs := opts.Programs
	if progs == nil {
		progs = attribution.DefaultPrograms()
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
	// The snapshot's JSON heads the inputs hash and, for a stored run, is kept: the run's rows
	// are reproduced from it. It is marshalled while a stored run computes (a second at the
	// bench scale); until it is, the inputs hash's segment lines wait in a buffer.
	var snapJSON []byte
	var snapErr error
	marshalled := make(chan struct{})
	go func() {
		defer close(marshalled)
		snapJSON, snapErr = json.Marshal(snap)
	}()
	ih := sha256.New()
	hashHead := func() error {
		<-marshalled
		if snapErr != nil {
			return snapErr
		}
		ih.Write(snapJSON)
		ih.Write([]byte("\n")) // as json.Encoder wrote it: inputs hashes stay what they were
		fmt.Fprintf(ih, "%d %d %s\n", opts.Period.From, opts.Period.To, progs.Hash)
		return nil
	}
	stored := !opts.DryRun && len(opts.UsageFiles) == 0 && opts.Shard == nil
	var hashTail bytes.Buffer // a stored run's segment lines, hashed after the head
	hw := io.Writer(&hashTail)
	if !stored {
		if err := hashHead(); err != nil {
			return nil, err
		}
		hw = ih
	}
	res := &RunResult{From: timeline.Format(opts.Period.From), To: timeline.Format(opts.Period.To), ProgramsVersion: progs.Version}
	totals := totaller{}
	// The inputs hash covers every record: a stored batch by its segment's hash, a batch read
	// from a file record by record.
	source := func(yield func(*usage.Batch) error) error {
		wrap := func(b *usage.Batch) error {
			if b.Source != "" {
				fmt.Fprintf(hw, "segment %s\n", b.Source)
			} else {
				var r usage.Record
				for i := 0; i < b.Len(); i++ {
					b.Record(i, &r)
					hashRecord(hw, &r)
				}
			}
			return yield(b)
		}
		if len(opts.UsageFiles) > 0 {
			return usage.ReadFileBatches(ctx, opts.UsageFiles, opts.UsageRead, 8192, wrap)
		}
		return usage.StreamAttribution(ctx, db.DB, opts.Period, nil, wrap)
	}
	count := func(rows []Row, incs []Incentive) {
		for _, r := range rows {
			totals.add(r.LocationID, r.Association, r.Currency, r.Amount)
		}
		for _, i := range incs {
			totals.add(i.LocationID, "incentive:"+i.Program, i.Currency, i.Amount)
		}
	}
	finish := func(st *attribution.Stats) {
		res.Stats = *st
		res.InputsHash = hex.EncodeToString(ih.Sum(nil))
		res.Totals = totals.strings()
	}
	if opts.DryRun || len(opts.UsageFiles) > 0 {
		// Nothing is written, so only the totals are needed.
		st, sums, err := attribution.ComputeSums(ctx, snap, progs, opts.Period, source)
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

	if opts.Shard != nil {
		return runShard(ctx, db, opts, snap, snapJSON, progs, started, now)
	}
	runID := store.NewID()
	res.RunID, res.Stored = runID, true
	in := &inputs{rules: RulesVersion, snapshot: snap, programs: progs} // its JSON once marshalled
	// Runs are serialised, whatever their periods: two runs that both cleared a period before
	// either wrote would both store their rows, and each would record its difference from a
	// run it did not replace. The lock is taken before the previous run is read.
	err := db.LoadExclusive(ctx, runLock, opts.Waiting, func(l store.Loader) error {
		prevID, prev, err := previousTotals(ctx, l, opts.Period)
		if err != nil {
			return err
		}
		// The database's work runs in order on one goroutine while the engine computes: first
		// the period's results become this run's (its coverage replaces the earlier runs'
		// within the period, result segments of runs stored before reproduction are cut, the
		// rollup sums of the days inside the period are deleted and their segments listed),
		// then the rollups as each day is done (a segment stored with the same bytes is kept,
		// stale.go), then the listed segments no day replaced are deleted.
		q := store.NewQueue()
		var old stale // the period's stored segments, once the queue has listed them
		q.Go(func() (err error) {
			old, err = clearPeriod(ctx, l, opts.Period)
			if opts.RewriteSegments {
				for k := range old {
					old[k] = sql.NullInt64{} // no hash: replaced whatever it holds
				}
			}
			return err
		})
		cut := cutDays(opts.Period)
		cutDay := map[int64]bool{}
		for _, d := range cut {
			cutDay[d] = true
		}
		segs := map[string]bool{}
		var segList []string
		strs := interner{}
		ru := newRollups(strs)
		curDay, haveDay := int64(0), false
		written := map[int64]bool{}
		flushRollups := func() {
			if ru.empty() {
				return
			}
			done := ru
			ru = newRollups(strs)
			done.totals(totals) // the run's totals are its rollups' (and its cut days' rows)
			q.Go(func() error { return done.write(ctx, l, old) })
		}
		var lastBatch *usage.Batch
		st, err := attribution.Compute(ctx, snap, progs, opts.Period, source, func(b *usage.Batch, i int, rows []Row, incs []Incentive) error {
			if b != lastBatch {
				lastBatch = b
				if b.Segment != "" && !segs[b.Segment] {
					segs[b.Segment] = true
					segList = append(segList, b.Segment)
				}
			}
			if len(rows) == 0 && len(incs) == 0 {
				return nil
			}
			d := floorDay(b.Start[i])
			if !haveDay || d != curDay {
				if haveDay {
					written[curDay] = true
					flushRollups()
				}
				if written[d] {
					return fmt.Errorf("usage of day %s came after later days: the engine's input must be in day order", timeline.Format(d))
				}
				curDay, haveDay = d, true
			}
			if cutDay[d] {
				count(rows, incs)
				return nil // rollups computed from every run's results of the day at the end
			}
			ru.record(rows)
			ru.incentives(incs)
			return nil
		})
		flushRollups()
		if err := q.Stop(err); err != nil {
			return err
		}
		if err := old.drop(ctx, l); err != nil {
			return err
		}
		if err := hashHead(); err != nil {
			return err
		}
		ih.Write(hashTail.Bytes())
		in.snapshotJSON = snapJSON
		sum := sha256.Sum256(snapJSON)
		in.snapshotSHA = hex.EncodeToString(sum[:])
		in.segments = segList
		if err := recordRun(ctx, l, runID, opts.Period, in); err != nil {
			return err
		}
		if err := recomputeRollups(ctx, l, db.DB, cut, map[string]*inputs{runID: in}); err != nil {
			return err
		}
		finish(st)
		res.PreviousRunID = prevID
		res.Diff = diffTotals(totals, parseTotals(prev))
		tj, _ := json.Marshal(res.Totals)
		dj, _ := json.Marshal(map[string]any{"previous_run_id": prevID, "changes": res.Diff})
		wj := []byte("[]")
		if len(st.TagWarnings) > 0 {
			wj, _ = json.Marshal(st.TagWarnings)
		}
		_, err = l.Exec(ctx, `INSERT INTO attribution_runs (id, period_from, period_to, started_at, finished_at, requested_by,
			inputs_hash, programs_version, attribution_rows, incentive_rows, totals, diff, status, warnings)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
			runID, opts.Period.From, opts.Period.To, started.UnixNano(), now().UnixNano(), opts.RequestedBy, res.InputsHash,
			progs.Version+"@"+progs.Hash[:12], st.Rows, st.Incentives, string(tj), string(dj), "ok", string(wj))
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// runLock is the name of the lock every storing run holds (store.DB.LoadExclusive).
const runLock = "attribution-run"

// previousTotals reads the totals of the latest run of the same period ("" if none), inside
// the run's transaction.
func previousTotals(ctx context.Context, l store.Loader, p timeline.Window) (string, Totals, error) {
	var id, tj string
	err := l.Query(ctx, `SELECT id, totals FROM attribution_runs WHERE period_from = $1 AND period_to = $2 AND status = 'ok'
		ORDER BY finished_at DESC, id DESC LIMIT 1`, []any{p.From, p.To}, func(scan func(...any) error) error {
		return scan(&id, &tj)
	})
	if err != nil || id == "" {
		return "", Totals{}, err
	}
	var t Totals
	if err := json.Unmarshal([]byte(tj), &t); err != nil {
		return "", nil, fmt.Errorf("run %s has unreadable totals: %w", id, err)
	}
	return id, t, nil
}
