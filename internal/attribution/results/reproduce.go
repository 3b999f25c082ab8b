package results

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// inputs are what a stored run's rows are reproduced from.
type inputs struct {
	rules        int64
	snapshotSHA  string // SHA-256 of snapshotJSON: the key of attribution_snapshots
	snapshotJSON []byte // set while the run is stored
	snapshot     *facts.Snapshot
	programs     *attribution.Programs
	segments     []string // the usage segments the run read
}

// coverage is one interval of charge starts whose results are run's.
type coverage struct {
	run      string
	from, to int64
}

// recordRun stores a run's inputs (its snapshot only when no run stored the same one) and
// makes it the period's run, then drops the inputs no coverage needs any more.
func recordRun(ctx context.Context, l store.Loader, runID string, p timeline.Window, in *inputs) error {
	var have int
	if err := l.Query(ctx, `SELECT 1 FROM attribution_snapshots WHERE sha256 = $1`, []any{in.snapshotSHA},
		func(scan func(...any) error) error { return scan(&have) }); err != nil {
		return err
	}
	if have == 0 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if _, err := zw.Write(in.snapshotJSON); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if _, err := l.Insert(ctx, "attribution_snapshots", []string{"sha256", "data"}, [][]any{{in.snapshotSHA, buf.Bytes()}}, false); err != nil {
			return err
		}
	}
	progs, err := json.Marshal(in.programs)
	if err != nil {
		return err
	}
	segs, _ := json.Marshal(in.segments)
	if in.segments == nil {
		segs = []byte("[]")
	}
	if _, err := l.Exec(ctx, `INSERT INTO attribution_run_inputs (run_id, rules_version, snapshot_sha256, programs, segment_ids)
		VALUES ($1, $2, $3, $4, $5)`, runID, in.rules, in.snapshotSHA, string(progs), string(segs)); err != nil {
		return err
	}
	if _, err := l.Exec(ctx, `INSERT INTO attribution_coverage (run_id, period_from, period_to) VALUES ($1, $2, $3)`, runID, p.From, p.To); err != nil {
		return err
	}
	if _, err := l.Exec(ctx, `DELETE FROM attribution_run_inputs WHERE run_id NOT IN (SELECT run_id FROM attribution_coverage)`); err != nil {
		return err
	}
	_, err = l.Exec(ctx, `DELETE FROM attribution_snapshots WHERE sha256 NOT IN (SELECT snapshot_sha256 FROM attribution_run_inputs)`)
	return err
}

// cutCoverage takes p out of every run's coverage: intervals inside p go, intervals that
// straddle its ends keep their parts outside it.
func cutCoverage(ctx context.Context, l store.Loader, p timeline.Window) error {
	var over []coverage
	err := l.Query(ctx, `SELECT run_id, period_from, period_to FROM attribution_coverage WHERE period_from < $1 AND period_to > $2`,
		[]any{p.To, p.From}, func(scan func(...any) error) error {
			var c coverage
			if err := scan(&c.run, &c.from, &c.to); err != nil {
				return err
			}
			over = append(over, c)
			return nil
		})
	if err != nil {
		return err
	}
	for _, c := range over {
		if _, err := l.Exec(ctx, `DELETE FROM attribution_coverage WHERE period_from = $1`, c.from); err != nil {
			return err
		}
		for _, keep := range []coverage{{c.run, c.from, min(c.to, p.From)}, {c.run, max(c.from, p.To), c.to}} {
			if keep.from < keep.to {
				if _, err := l.Exec(ctx, `INSERT INTO attribution_coverage (run_id, period_from, period_to) VALUES ($1, $2, $3)`,
					keep.run, keep.from, keep.to); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// covering returns the coverage intervals that meet w, cut to w, in order.
func covering(ctx context.Context, q reader, w timeline.Window) ([]coverage, error) {
	var out []coverage
	err := q.query(ctx, `SELECT run_id, period_from, period_to FROM attribution_coverage WHERE period_from < $1 AND period_to > $2
		ORDER BY period_from`, []any{w.To, w.From}, func(scan func(...any) error) error {
		var c coverage
		if err := scan(&c.run, &c.from, &c.to); err != nil {
			return err
		}
		c.from, c.to = max(c.from, w.From), min(c.to, w.To)
		out = append(out, c)
		return nil
	})
	return out, err
}

// loadInputs reads a stored run's inputs.
func loadInputs(ctx context.Context, q reader, runID string) (*inputs, error) {
	in := &inputs{}
	var progs, segs string
	found := false
	err := q.query(ctx, `SELECT i.rules_version, i.snapshot_sha256, i.programs, i.segment_ids, s.data FROM attribution_run_inputs i
		JOIN attribution_snapshots s ON s.sha256 = i.snapshot_sha256 WHERE i.run_id = $1`, []any{runID},
		func(scan func(...any) error) error {
			var data []byte
			if err := scan(&in.rules, &in.snapshotSHA, &progs, &segs, &data); err != nil {
				return err
			}
			found = true
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("the snapshot of run %s is damaged: %w", runID, err)
			}
			js, err := io.ReadAll(zr)
			if err != nil {
				return fmt.Errorf("the snapshot of run %s is damaged: %w", runID, err)
			}
			in.snapshotJSON = js
			return nil
		})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("run %s covers results but its inputs are not stored: run `partnerlink attribute` for its period again", runID)
	}
	if in.rules != RulesVersion {
		return nil, store.NewError(store.ErrConflict, fmt.Sprintf("run %s was computed by attribution rules version %d and this partnerlink applies version %d: run `partnerlink attribute` for its period again to restate it", runID, in.rules, RulesVersion), nil)
	}
	if err := json.Unmarshal(in.snapshotJSON, &in.snapshot); err != nil {
		return nil, fmt.Errorf("the snapshot of run %s is unreadable: %w", runID, err)
	}
	if sum := sha256Hex(in.snapshotJSON); sum != in.snapshotSHA {
		return nil, fmt.Errorf("the snapshot of run %s is damaged: its SHA-256 is %s, not %s", runID, sum, in.snapshotSHA)
	}
	in.programs = &attribution.Programs{}
	if err := json.Unmarshal([]byte(progs), in.programs); err != nil {
		return nil, fmt.Errorf("the programs of run %s are unreadable: %w", runID, err)
	}
	if err := json.Unmarshal([]byte(segs), &in.segments); err != nil {
		return nil, fmt.Errorf("the usage segments of run %s are unreadable: %w", runID, err)
	}
	in.snapshotJSON = nil
	return in, nil
}

// reproduce computes again the rows of every run that covers part of w, for the records whose
// charge starts in w, each run from its own inputs: the estate it saw, its programs and the
// usage segments it read. usageQ reads usage (outside the run's transaction when called from
// one: a run never changes usage).
func reproduce(ctx context.Context, q reader, usageQ store.Querier, w timeline.Window, cache map[string]*inputs, out attribution.Sink) error {
	covs, err := covering(ctx, q, w)
	if err != nil {
		return err
	}
	for _, c := range covs {
		in := cache[c.run]
		if in == nil {
			if in, err = loadInputs(ctx, q, c.run); err != nil {
				return err
			}
			if cache != nil {
				cache[c.run] = in
			}
		}
		keep := make(map[string]bool, len(in.segments))
		for _, s := range in.segments {
			keep[s] = true
		}
		win := timeline.Window{From: c.from, To: c.to}
		_, err := attribution.Compute(ctx, in.snapshot, in.programs, win, func(yield func(*usage.Batch) error) error {
			return usage.StreamSegments(ctx, usageQ, win, func(id string) bool { return keep[id] }, yield)
		}, out)
		if err != nil {
			return fmt.Errorf("reproducing the rows of run %s: %w", c.run, err)
		}
	}
	return nil
}

// reader runs a query: a store.Loader inside a transaction, a store.Querier outside one.
type reader interface {
	query(ctx context.Context, query string, args []any, fn func(scan func(...any) error) error) error
}

type loaderReader struct{ l store.Loader }

func (r loaderReader) query(ctx context.Context, q string, args []any, fn func(scan func(...any) error) error) error {
	return r.l.Query(ctx, q, args, fn)
}

type querierReader struct{ q store.Querier }

func (r querierReader) query(ctx context.Context, q string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
