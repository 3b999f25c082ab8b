package usage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// ImportOptions control one import.
type ImportOptions struct {
	ReadOptions
	// SkipBad imports the good rows and writes each bad row to Rejects; without it a file
	// with any bad row imports nothing.
	SkipBad bool
	Rejects io.Writer
	// MaxListed bad rows are listed in the error (default 100); the rest are counted.
	MaxListed int
	// Progress, when set, is called every few thousand rows with rows and bytes read so far.
	Progress func(rows, bytes int64)
	Now      func() time.Time
}

// Import is the record of one file's import, as stored in the imports table.
type Import struct {
	ID            string    `json:"id"`
	File          string    `json:"file"`
	SHA256        string    `json:"sha256"`
	Format        string    `json:"format"`
	Measure       string    `json:"measure"`
	RowsRead      int64     `json:"rowsRead"`
	RowsAdded     int64     `json:"rowsAdded"`
	RowsDuplicate int64     `json:"rowsDuplicate"`
	RowsRejected  int64     `json:"rowsRejected"`
	StartedAt     time.Time `json:"startedAt"`
	FinishedAt    time.Time `json:"finishedAt"`
	Status        string    `json:"status"` // done | rejected
}

// RejectedError says a file had bad rows and nothing of it was imported.
type RejectedError struct {
	File   string
	Rows   []*RowError // the first MaxListed
	Total  int64
	Import *Import
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bad row(s), nothing imported (fix them, or pass --skip-bad --rejects FILE to import the good rows):", e.File, e.Total)
	for _, r := range e.Rows {
		b.WriteString("\n  ")
		b.WriteString(r.Error())
	}
	if more := e.Total - int64(len(e.Rows)); more > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", more)
	}
	return b.String()
}

var columnsStored = []string{"record_key", "charge_start", "charge_end", "subscription_id", "resource_id",
	"resource_key", "service", "service_category", "charge_category", "pricing_category",
	"commitment_discount_id", "provider", "publisher", "currency", "cost_nanos", "cost_raw", "measure", "import_id"}

const batchRows = 10000

// ImportFiles imports each file in its own transaction: a file is imported whole or not at
// all. It stops at the first file that fails and returns the imports done so far.
func ImportFiles(ctx context.Context, db *store.DB, paths []string, opts ImportOptions) ([]*Import, error) {
	var done []*Import
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return done, fmt.Errorf("opening usage file: %w", err)
		}
		imp, err := ImportReader(ctx, db, f, filepath.Base(p), opts)
		f.Close()
		if err != nil {
			return done, err
		}
		done = append(done, imp)
	}
	return done, nil
}

type countingReader struct {
	r io.Reader
	h hash.Hash
	n atomic.Int64 // read by the progress callback while the parser's goroutine reads
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n.Add(int64(n))
	return n, err
}

// ImportReader imports one usage file from r in one transaction. Records whose key is already
// stored are counted as duplicates and not written again, so re-importing a file, or a file
// that overlaps an earlier one, adds nothing.
func ImportReader(ctx context.Context, db *store.DB, r io.Reader, name string, opts ImportOptions) (*Import, error) {
	if opts.SkipBad && opts.Rejects == nil {
		return nil, errors.New("--skip-bad needs --rejects FILE, so that no bad row is lost")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	maxListed := opts.MaxListed
	if maxListed <= 0 {
		maxListed = 100
	}
	src := &countingReader{r: r, h: sha256.New()}
	rd, err := NewReader(src, name, opts.ReadOptions)
	if err != nil {
		return nil, err
	}
	imp := &Import{ID: store.NewID(), File: name, Format: rd.Format(), Measure: opts.measure(), StartedAt: now().UTC()}
	var listed []*RowError
	rejectsHeader := false
	parts := newPartitioner(db)
	errRejected := errors.New("rejected")

	err = db.Load(ctx, func(l store.Loader) error {
		// Parsing and writing overlap: a full batch goes to a writer goroutine (the only user
		// of l until it is done) while the next batch is parsed, so the database's work and
		// the parser's share the machine instead of taking turns. The channel is unbuffered:
		// two batches in memory at most.
		batches := make(chan [][]any)
		stop := make(chan struct{}) // closed when the writer fails
		var writeErr error
		var added int64
		written := make(chan struct{})
		go func() {
			defer close(written)
			for b := range batches {
				if writeErr != nil {
					continue // drain
				}
				if err := parts.ensure(ctx, l, b); err != nil {
					writeErr = err
				} else if n, err := parts.insert(ctx, l, b); err != nil {
					writeErr = err
				} else {
					added += n
				}
				if writeErr != nil {
					close(stop)
				}
			}
		}()
		errWriter := errors.New("writer failed")
		measure, importID := any(imp.Measure), any(imp.ID) // boxed once, not per row
		var batch [][]any
		var vals []any // one array for the batch's values: one allocation, not one per row
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if imp.RowsRejected == 0 || opts.SkipBad {
				select {
				case batches <- batch:
				case <-stop:
					return errWriter
				}
			}
			batch, vals = nil, nil
			return nil
		}
		err := rd.Each(ctx, func(rec *Record, bad *RowError) error {
			imp.RowsRead++
			if imp.RowsRead%batchRows == 0 && opts.Progress != nil {
				opts.Progress(imp.RowsRead, src.n.Load())
			}
			if bad != nil {
				imp.RowsRejected++
				if opts.SkipBad {
					if !rejectsHeader {
						if err := writeRejectsHeader(opts.Rejects, rd.Header()); err != nil {
							return err
						}
						rejectsHeader = true
					}
					return writeReject(opts.Rejects, bad)
				}
				if len(listed) < maxListed {
					listed = append(listed, bad)
				}
				return nil
			}
			if batch == nil {
				batch = make([][]any, 0, batchRows)
				vals = make([]any, 0, batchRows*len(columnsStored))
			}
			n := len(vals)
			vals = append(vals, rec.Key, rec.Start, rec.End, rec.SubscriptionID, rec.ResourceID,
				ResourceKey(rec.ResourceID), rec.Service, rec.ServiceCategory, rec.ChargeCategory,
				rec.PricingCategory, rec.CommitmentDiscountID, rec.Provider, rec.Publisher, rec.Currency,
				int64(rec.Cost), rec.CostRaw, measure, importID)
			batch = append(batch, vals[n:len(vals):len(vals)])
			if len(batch) == batchRows {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		close(batches)
		<-written
		if writeErr != nil {
			return writeErr
		}
		if err != nil {
			return err
		}
		imp.RowsAdded = added
		if opts.Progress != nil {
			opts.Progress(imp.RowsRead, src.n.Load())
		}
		if imp.RowsRejected > 0 && !opts.SkipBad {
			return errRejected
		}
		// Drain what the CSV reader did not need (a trailing newline) so the hash is the file's.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return err
		}
		imp.SHA256 = hex.EncodeToString(src.h.Sum(nil))
		imp.RowsDuplicate = imp.RowsRead - imp.RowsRejected - imp.RowsAdded
		imp.FinishedAt = now().UTC()
		imp.Status = "done"
		_, err = l.Exec(ctx, insertImport, importArgs(imp)...)
		return err
	})
	if errors.Is(err, errRejected) {
		imp.SHA256 = hex.EncodeToString(src.h.Sum(nil))
		imp.RowsAdded, imp.RowsDuplicate = 0, 0
		imp.FinishedAt = now().UTC()
		imp.Status = "rejected"
		// The attempt is recorded too, so the import history shows it.
		if _, err := db.ExecContext(ctx, insertImport, importArgs(imp)...); err != nil {
			return nil, db.Translate(err)
		}
		return nil, &RejectedError{File: name, Rows: listed, Total: imp.RowsRejected, Import: imp}
	}
	if err != nil {
		return nil, err
	}
	return imp, nil
}

const insertImport = `INSERT INTO imports (id, kind, file_name, file_hash, rows_read, rows_added, rows_duplicate,
	rows_rejected, summary, started_at, finished_at, status) VALUES ($1, 'usage', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func importArgs(imp *Import) []any {
	summary, _ := json.Marshal(map[string]string{"format": imp.Format, "measure": imp.Measure})
	return []any{imp.ID, imp.File, imp.SHA256, imp.RowsRead, imp.RowsAdded, imp.RowsDuplicate, imp.RowsRejected,
		string(summary), imp.StartedAt.UnixNano(), imp.FinishedAt.UnixNano(), imp.Status}
}

func writeRejectsHeader(w io.Writer, header []string) error {
	var b strings.Builder
	for i, h := range header {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(csvQuote(h))
	}
	b.WriteString(",x_RejectLine,x_RejectReason\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeReject writes the bad row as it was read, followed by its line and reason, so that the
// rejects file can be fixed and imported again (x_ columns are ignored by the importer).
func writeReject(w io.Writer, bad *RowError) error {
	reason := bad.Reason
	if bad.Column != "" {
		reason = "column " + bad.Column + ": " + reason
	}
	_, err := io.WriteString(w, bad.Raw+","+strconv.Itoa(bad.Line)+","+csvQuote(reason)+"\n")
	return err
}

func csvQuote(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// partitioner creates PostgreSQL's monthly partitions of usage_records before rows of a new
// month are written (SQLite has no partitions). Rows outside every partition would land in the
// default partition; creating the month first keeps each month in its own table, so that a
// period's scan and a month's deletion touch only that month.
//
// It also picks how a batch is written on PostgreSQL. The general way copies the batch into a
// temporary table and moves it with INSERT ... ON CONFLICT DO NOTHING: every row is written
// twice. When every row of a batch belongs to a month whose partition was empty when this
// import locked it (the usual case: importing a new month), the only rows that can conflict
// are ones this import wrote itself. Those are remembered in a Bloom filter, so the batch is
// de-duplicated, the filter's few "maybe seen" keys are looked up, and when none is stored the
// batch is copied straight into usage_records. Any doubt takes the general way, so what is
// stored is exactly what the general way stores.
type partitioner struct {
	pg    bool
	known map[int64]bool // months whose partition exists
	fresh map[int64]bool // months whose partition was empty when this import locked it
	wrote *bloom         // the (record_key, charge_start) of every row this import wrote
}

func newPartitioner(db *store.DB) *partitioner {
	return &partitioner{pg: db.Engine() == store.Postgres, known: map[int64]bool{}, fresh: map[int64]bool{}}
}

func monthOf(ns int64) time.Time {
	t := time.Unix(0, ns).UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func (p *partitioner) ensure(ctx context.Context, l store.Loader, batch [][]any) error {
	if !p.pg {
		return nil
	}
	for _, row := range batch {
		month := monthOf(row[1].(int64))
		if p.known[month.UnixNano()] {
			continue
		}
		next := month.AddDate(0, 1, 0)
		name := fmt.Sprintf("usage_records_p%04d%02d", month.Year(), int(month.Month()))
		// IF NOT EXISTS makes concurrent imports of the same month safe to repeat.
		q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF usage_records FOR VALUES FROM (%d) TO (%d)`,
			name, month.UnixNano(), next.UnixNano())
		if _, err := l.Exec(ctx, q); err != nil {
			return fmt.Errorf("creating usage partition %s: %w", name, err)
		}
		// Other imports may read the month but not write it until this one commits, so "empty
		// now" stays true of everything but this import's own rows.
		if _, err := l.Exec(ctx, `LOCK TABLE `+name+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("locking usage partition %s: %w", name, err)
		}
		n, err := l.Exec(ctx, `SELECT 1 FROM `+name+` LIMIT 1`)
		if err != nil {
			return fmt.Errorf("reading usage partition %s: %w", name, err)
		}
		p.known[month.UnixNano()] = true
		p.fresh[month.UnixNano()] = n == 0
	}
	return nil
}

type rowKey struct {
	key   string
	start int64
}

// insert writes a batch of usage rows and reports how many were new.
func (p *partitioner) insert(ctx context.Context, l store.Loader, batch [][]any) (int64, error) {
	if !p.pg {
		return l.Insert(ctx, "usage_records", columnsStored, batch, true)
	}
	if p.wrote == nil {
		p.wrote = newBloom()
	}
	n, err := p.insertPG(ctx, l, batch)
	if err != nil {
		return n, err
	}
	for _, row := range batch {
		p.wrote.add(row[0].(string), row[1].(int64))
	}
	return n, nil
}

func (p *partitioner) insertPG(ctx context.Context, l store.Loader, batch [][]any) (int64, error) {
	for _, row := range batch {
		if !p.fresh[monthOf(row[1].(int64)).UnixNano()] {
			return l.Insert(ctx, "usage_records", columnsStored, batch, true)
		}
	}
	// Keep the first of rows with the same key, as INSERT ... ON CONFLICT DO NOTHING does.
	inBatch := make(map[rowKey]bool, len(batch))
	unique := make([][]any, 0, len(batch))
	var maybeKeys []string
	var maybeStarts []int64
	for _, row := range batch {
		k := rowKey{row[0].(string), row[1].(int64)}
		if inBatch[k] {
			continue
		}
		inBatch[k] = true
		unique = append(unique, row)
		if p.wrote.has(k.key, k.start) {
			maybeKeys = append(maybeKeys, k.key)
			maybeStarts = append(maybeStarts, k.start)
		}
	}
	if len(maybeKeys) > 0 {
		stored, err := l.Exec(ctx, `SELECT 1 FROM usage_records WHERE (record_key, charge_start) IN
			(SELECT * FROM unnest($1::text[], $2::bigint[]))`, maybeKeys, maybeStarts)
		if err != nil {
			return 0, err
		}
		if stored > 0 {
			return l.Insert(ctx, "usage_records", columnsStored, batch, true)
		}
	}
	return l.Insert(ctx, "usage_records", columnsStored, unique, false)
}

// bloom is a fixed-size Bloom filter of (key, start) pairs: 16 MiB, so about 0.5% false
// positives at 10 million rows, more beyond (a false positive only costs a lookup).
type bloom struct {
	bits []uint64
	seed maphash.Seed
}

const bloomBits = 1 << 27

func newBloom() *bloom { return &bloom{bits: make([]uint64, bloomBits/64), seed: maphash.MakeSeed()} }

func (b *bloom) hashes(key string, start int64) (uint64, uint64) {
	h1 := maphash.String(b.seed, key) ^ uint64(start)*0x9e3779b97f4a7c15
	h2 := (h1 >> 29) | (h1 << 35) | 1
	return h1, h2
}

func (b *bloom) add(key string, start int64) {
	h1, h2 := b.hashes(key, start)
	for i := uint64(0); i < 4; i++ {
		bit := (h1 + i*h2) % bloomBits
		b.bits[bit/64] |= 1 << (bit % 64)
	}
}

func (b *bloom) has(key string, start int64) bool {
	h1, h2 := b.hashes(key, start)
	for i := uint64(0); i < 4; i++ {
		bit := (h1 + i*h2) % bloomBits
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

const selectRecords = `SELECT record_key, charge_start, charge_end, subscription_id, resource_id, service,
	service_category, charge_category, pricing_category, commitment_discount_id, provider, publisher,
	currency, cost_nanos, cost_raw FROM usage_records`

func scanRecord(rows *sql.Rows, r *Record) error {
	var cost int64
	if err := rows.Scan(&r.Key, &r.Start, &r.End, &r.SubscriptionID, &r.ResourceID, &r.Service,
		&r.ServiceCategory, &r.ChargeCategory, &r.PricingCategory, &r.CommitmentDiscountID, &r.Provider,
		&r.Publisher, &r.Currency, &cost, &r.CostRaw); err != nil {
		return err
	}
	r.Cost = money.Nanos(cost)
	return nil
}

// Stream calls fn for every stored record whose charge period starts in w, ordered by
// subscription and record key (the engine splits work by subscription).
func Stream(ctx context.Context, q store.Querier, w timeline.Window, fn func(*Record) error) error {
	return query(ctx, q, selectRecords+` WHERE charge_start >= $1 AND charge_start < $2 ORDER BY subscription_id, record_key`,
		[]any{w.From, w.To}, fn)
}

// Records calls fn for every stored record whose charge period starts in w, ordered by record
// key: the order of `partnerlink export usage`.
func Records(ctx context.Context, q store.Querier, w timeline.Window, fn func(*Record) error) error {
	return query(ctx, q, selectRecords+` WHERE charge_start >= $1 AND charge_start < $2 ORDER BY record_key`,
		[]any{w.From, w.To}, fn)
}

func query(ctx context.Context, q store.Querier, sqlText string, args []any, fn func(*Record) error) error {
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r Record
	for rows.Next() {
		if err := scanRecord(rows, &r); err != nil {
			return err
		}
		rec := r
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Imports lists the recorded usage imports, newest first.
func Imports(ctx context.Context, q store.Querier, limit int) ([]*Import, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, file_name, file_hash, rows_read, rows_added, rows_duplicate,
		rows_rejected, summary, started_at, finished_at, status FROM imports WHERE kind = 'usage' ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Import
	for rows.Next() {
		var imp Import
		var summary string
		var started, finished int64
		if err := rows.Scan(&imp.ID, &imp.File, &imp.SHA256, &imp.RowsRead, &imp.RowsAdded, &imp.RowsDuplicate,
			&imp.RowsRejected, &summary, &started, &finished, &imp.Status); err != nil {
			return nil, err
		}
		var s map[string]string
		_ = json.Unmarshal([]byte(summary), &s)
		imp.Format, imp.Measure = s["format"], s["measure"]
		imp.StartedAt, imp.FinishedAt = timeline.Time(started), timeline.Time(finished)
		out = append(out, &imp)
	}
	return out, rows.Err()
}

// ReadFiles parses files without storing them (for what-if engine runs) and calls fn for each
// record. Any bad row stops it with the row's error.
func ReadFiles(ctx context.Context, paths []string, opts ReadOptions, fn func(*Record) error) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("opening usage file: %w", err)
		}
		err = readAll(ctx, f, filepath.Base(p), opts, fn)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func readAll(ctx context.Context, r io.Reader, name string, opts ReadOptions, fn func(*Record) error) error {
	rd, err := NewReader(r, name, opts)
	if err != nil {
		return err
	}
	return rd.Each(ctx, func(rec *Record, bad *RowError) error {
		if bad != nil {
			return bad
		}
		return fn(rec)
	})
}
