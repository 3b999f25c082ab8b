package results

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Shard names one part of a sharded run. Attribution is independent per subscription (Azure)
// or sub-account (other providers), so a period's usage splits by that ID into Count shards
// that separate processes compute against the same database. Every shard of Group stores its
// rollups as parts; the shard that finishes last commits the run: in one transaction it
// replaces the period's results with the parts added up, exactly as one unsharded run would
// have stored them.
type Shard struct {
	Group        string // the same for every shard of the run (any text the callers agree on)
	Index, Count int    // this shard, 0 ≤ Index < Count
}

// shardOf deals a subscription (or sub-account) to a shard, the same in every process: FNV-1a.
func shardOf(sub string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(sub); i++ {
		h ^= uint32(sub[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// runShard computes one shard and stores its parts, then commits the run if it is the last.
func runShard(ctx context.Context, db *store.DB, opts RunOptions, snap *facts.Snapshot, snapJSON []byte, progs *attribution.Programs,
	started time.Time, now func() time.Time) (*RunResult, error) {
	sh := opts.Shard
	p := opts.Period
	if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count || sh.Group == "" {
		return nil, fmt.Errorf("shard %d of %d of group %q: give a group name and 0 ≤ index < count", sh.Index, sh.Count, sh.Group)
	}
	if p.From != floorDay(p.From) || p.To != floorDay(p.To) {
		return nil, fmt.Errorf("a sharded run's period must start and end at UTC midnight (%s)", p)
	}
	var sources []string
	segs := map[string]bool{}
	var segList []string
	source := func(yield func(*usage.Batch) error) error {
		// Only the shard's rows are decoded; a segment none of whose rows in the period are
		// the shard's is not among its sources, and the run's sources are the shards' union.
		mine := func(sub string) bool { return shardOf(sub, sh.Count) == sh.Index }
		return usage.StreamAttribution(ctx, db.DB, p, mine, func(b *usage.Batch) error {
			if !segs[b.Segment] {
				segs[b.Segment] = true
				segList = append(segList, b.Segment)
			}
			sources = append(sources, b.Source)
			return yield(b)
		})
	}
	// The parts: per day, the day's rollups at the finest grain, written as each day is done.
	q := store.NewQueue()
	var st *attribution.Stats
	err := db.Load(ctx, func(l store.Loader) error {
		if _, err := l.Exec(ctx, `DELETE FROM attribution_shard_parts WHERE group_id = $1 AND shard = $2`, sh.Group, sh.Index); err != nil {
			return err
		}
		if _, err := l.Exec(ctx, `DELETE FROM attribution_shards WHERE group_id = $1 AND shard = $2`, sh.Group, sh.Index); err != nil {
			return err
		}
		strs := interner{}
		ru := newRollups(strs)
		curDay, haveDay := int64(0), false
		flush := func() {
			if ru.empty() {
				return
			}
			done, d := ru, curDay
			ru = newRollups(strs)
			q.Go(func() error {
				_, err := l.Insert(ctx, "attribution_shard_parts", []string{"group_id", "shard", "day", "data"},
					[][]any{{sh.Group, int64(sh.Index), d, done.encodePart()}}, false)
				return err
			})
		}
		var err error
		st, err = attribution.Compute(ctx, snap, progs, p, source, func(b *usage.Batch, i int, rows []Row, incs []Incentive) error {
			if len(rows) == 0 && len(incs) == 0 {
				return nil
			}
			if d := floorDay(b.Start[i]); !haveDay || d != curDay {
				flush()
				curDay, haveDay = d, true
			}
			ru.record(rows)
			ru.incentives(incs)
			return nil
		})
		flush()
		return q.Stop(err)
	})
	if err != nil {
		return nil, err
	}
	sj, _ := json.Marshal(st)
	segj, _ := json.Marshal(segList)
	srcj, _ := json.Marshal(sources)
	snapSum := sha256.Sum256(snapJSON)
	res := &RunResult{From: timeline.Format(p.From), To: timeline.Format(p.To), ProgramsVersion: progs.Version, Diff: Totals{}, Totals: Totals{},
		Stats: *st}
	err = db.LoadExclusive(ctx, runLock, opts.Waiting, func(l store.Loader) error {
		if _, err := l.Exec(ctx, `INSERT INTO attribution_shards (group_id, shard, shards, period_from, period_to, snapshot_sha256, segment_ids,
			sources, stats, started_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, sh.Group, int64(sh.Index), int64(sh.Count), p.From, p.To,
			hex.EncodeToString(snapSum[:]), string(segj), string(srcj), string(sj), started.UnixNano()); err != nil {
			return err
		}
		type done struct {
			shards, from, to    int64
			snap, segs, srcs, s string
			started             int64
		}
		var all []done
		err := l.Query(ctx, `SELECT shards, period_from, period_to, snapshot_sha256, segment_ids, sources, stats, started_at
			FROM attribution_shards WHERE group_id = $1`, []any{sh.Group}, func(scan func(...any) error) error {
			var d done
			if err := scan(&d.shards, &d.from, &d.to, &d.snap, &d.segs, &d.srcs, &d.s, &d.started); err != nil {
				return err
			}
			all = append(all, d)
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range all {
			if d.shards != int64(sh.Count) || d.from != p.From || d.to != p.To || d.snap != all[0].snap {
				return fmt.Errorf("the shards of group %q disagree on their count, period or estate (the estate changed between them?): run every shard again", sh.Group)
			}
		}
		if len(all) < sh.Count {
			return nil // not the last: the last shard commits
		}
		// The last shard: the run, as one run of the period stores it.
		var stats attribution.Stats
		segSet, srcSet := map[string]bool{}, []string{}
		var unknown []string
		first := started.UnixNano()
		for _, d := range all {
			var x attribution.Stats
			var ss, rs []string
			if err := json.Unmarshal([]byte(d.s), &x); err != nil {
				return err
			}
			_ = json.Unmarshal([]byte(d.segs), &ss)
			_ = json.Unmarshal([]byte(d.srcs), &rs)
			addStats(&stats, &x)
			unknown = append(unknown, x.UnknownSubscriptions...)
			for _, s := range ss {
				segSet[s] = true
			}
			srcSet = append(srcSet, rs...)
			first = min(first, d.started)
		}
		slices.Sort(unknown)
		unknown = slices.Compact(unknown)
		if len(unknown) > 20 {
			unknown = unknown[:20]
		}
		stats.UnknownSubscriptions = unknown
		// The run's segments are the union of those the shards read rows of.
		var segments []string
		for s := range segSet {
			segments = append(segments, s)
		}
		sort.Strings(segments)
		slices.Sort(srcSet)
		srcSet = slices.Compact(srcSet)
		ih := sha256.New()
		ih.Write(snapJSON)
		fmt.Fprintf(ih, "\n%d %d %s\nshards %d\n%s\n", p.From, p.To, progs.Hash, sh.Count, strings.Join(srcSet, "\n"))
		res.InputsHash = hex.EncodeToString(ih.Sum(nil))
		return commitShards(ctx, l, db, sh, opts, res, &stats, &inputs{rules: RulesVersion, snapshot: snap, programs: progs,
			snapshotJSON: snapJSON, snapshotSHA: hex.EncodeToString(snapSum[:]), segments: segments}, first, now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// commitShards stores the run of a group's parts, inside the run lock's transaction.
func commitShards(ctx context.Context, l store.Loader, db *store.DB, sh *Shard, opts RunOptions, res *RunResult, stats *attribution.Stats,
	in *inputs, started int64, now func() time.Time) error {
	p := opts.Period
	prevID, prev, err := previousTotals(ctx, l, p)
	if err != nil {
		return err
	}
	st, err := clearPeriod(ctx, l, p)
	if err != nil {
		return err
	}
	// A day's parts are added up on a goroutine while the transaction reads the next day's
	// and writes the day before's rollups: the commit, which holds the run lock, waits less.
	type summed struct {
		ru  *rollups
		err error
	}
	totals := totaller{}
	write := func(pending chan summed) error {
		x := <-pending
		if x.err != nil || x.ru.empty() {
			return x.err
		}
		x.ru.totals(totals)
		return x.ru.write(ctx, l, st)
	}
	var pending chan summed
	for d := p.From; d < p.To; d += day {
		var datas [][]byte
		err := l.Query(ctx, `SELECT data FROM attribution_shard_parts WHERE group_id = $1 AND day = $2`, []any{sh.Group, d},
			func(scan func(...any) error) error {
				var b []byte
				if err := scan(&b); err != nil {
					return err
				}
				datas = append(datas, b)
				return nil
			})
		if err != nil {
			return err
		}
		next := make(chan summed, 1)
		go func(d int64) {
			ru := newRollups(interner{})
			for _, b := range datas {
				if err := ru.decodePart(fmt.Sprintf("shard part of group %s on %s", sh.Group, timeline.Format(d)), b); err != nil {
					next <- summed{err: err}
					return
				}
			}
			next <- summed{ru: ru}
		}(d)
		if pending != nil {
			if err := write(pending); err != nil {
				return err
			}
		}
		pending = next
	}
	if pending != nil {
		if err := write(pending); err != nil {
			return err
		}
	}
	if err := st.drop(ctx, l); err != nil {
		return err
	}
	runID := store.NewID()
	if err := recordRun(ctx, l, runID, p, in); err != nil {
		return err
	}
	res.RunID, res.Stored, res.Stats = runID, true, *stats
	res.Totals = totals.strings()
	res.PreviousRunID = prevID
	res.Diff = diffTotals(totals, parseTotals(prev))
	tj, _ := json.Marshal(res.Totals)
	dj, _ := json.Marshal(map[string]any{"previous_run_id": prevID, "changes": res.Diff})
	progs := in.programs
	if _, err := l.Exec(ctx, `INSERT INTO attribution_runs (id, period_from, period_to, started_at, finished_at, requested_by,
		inputs_hash, programs_version, attribution_rows, incentive_rows, totals, diff, status)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		runID, p.From, p.To, started, now().UnixNano(), opts.RequestedBy, res.InputsHash,
		progs.Version+"@"+progs.Hash[:12], stats.Rows, stats.Incentives, string(tj), string(dj), "ok"); err != nil {
		return err
	}
	if _, err := l.Exec(ctx, `DELETE FROM attribution_shard_parts WHERE group_id = $1`, sh.Group); err != nil {
		return err
	}
	_, err = l.Exec(ctx, `DELETE FROM attribution_shards WHERE group_id = $1`, sh.Group)
	return err
}

func addStats(a, b *attribution.Stats) {
	a.Records += b.Records
	a.OutsidePeriod += b.OutsidePeriod
	a.NotConsumption += b.NotConsumption
	a.UnknownSubscription += b.UnknownSubscription
	a.OtherProviders += b.OtherProviders
	a.EmptyPeriod += b.EmptyPeriod
	a.Rows += b.Rows
	a.Incentives += b.Incentives
}

// encodePart writes the rollups at the finest grain as two rollup segments back to back (rows
// of attribution sums, then incentive sums), each with its length.
func (ru *rollups) encodePart() []byte {
	n := newStrNums()
	att := newRollupSeg(n, 9, 4)
	for k, vs := range ru.recs {
		for _, v := range vs.vals {
			att.add([]int32{n.of(v.loc), n.of(v.org), n.of(v.assoc), n.of(k.tenant), n.of(k.sub), n.of(k.service), n.of(v.role), n.of(k.currency), n.of(k.provider)},
				k.day, v.amount, v.orgAmount, v.records)
		}
	}
	inc := newRollupSeg(n, 4, 3)
	for k, v := range ru.inc {
		inc.add([]int32{n.of(k.loc), n.of(k.org), n.of(k.program), n.of(k.currency)}, k.day, v.amount, v.records)
	}
	a, b := att.encode(), inc.encode()
	out := appendString(nil, string(a))
	return append(out, appendString(nil, string(b))...)
}

// decodePart adds a part written by encodePart.
func (ru *rollups) decodePart(what string, data []byte) error {
	var parts [][]byte
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || uint64(len(data)-k) < n {
			return fmt.Errorf("%s: %w: bad length", what, errRollupCorrupt)
		}
		parts = append(parts, data[k:k+int(n)])
		data = data[k+int(n):]
	}
	if len(parts) != 2 {
		return fmt.Errorf("%s: %w: %d segments, not 2", what, errRollupCorrupt, len(parts))
	}
	if err := decodeRollup(what, parts[0], 9, 4, func(s []string, n []int64) {
		ru.add(&RollupRow{Day: n[0], LocationID: s[0], OrgID: s[1], Association: s[2], TenantID: s[3], SubscriptionID: s[4], Service: s[5],
			AdminRole: s[6], Currency: s[7], Provider: s[8], Amount: n[1], OrgAmount: n[2], Records: n[3]})
	}); err != nil {
		return err
	}
	return decodeRollup(what, parts[1], 4, 3, func(s []string, n []int64) {
		k := incKey{n[0], s[0], s[1], s[2], s[3]}
		v := ru.incentiveVal(k)
		v.amount += n[1]
		v.records += n[2]
	})
}
