package usage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/partnerlink/partnerlink/internal/importlog"
	"github.com/partnerlink/partnerlink/internal/metrics"
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
	Format        string    `json:"format"`   // focus or azure-cost ("" when the file was rejected before its header was read)
	Encoding      string    `json:"encoding"` // csv or parquet (ndjson over HTTP; "records" for programs)
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
// stored (with the same charge start) are counted as duplicates and not written again, so
// re-importing a file, or a file that overlaps an earlier one, adds nothing.
func ImportReader(ctx context.Context, db *store.DB, r io.Reader, name string, opts ImportOptions) (_ *Import, importErr error) {
	defer func(start time.Time) { metrics.ImportDone("usage", time.Since(start), importErr) }(time.Now())
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
	imp := &Import{ID: store.NewID(), File: name, Measure: opts.measure(), StartedAt: now().UTC()}
	// The file is hashed as it is read: a stream through countingReader, a Parquet file (read
	// at random) from start to end once its rows are read.
	var bytesRead func() int64
	var sum func() (string, error)
	var rd *Reader
	var err error
	if ra, size, ok := parquetAt(r); ok {
		rd, err = NewReader(r, name, opts.ReadOptions)
		bytesRead = func() int64 { return size * imp.RowsRead / max(rd.pq.rows, 1) }
		sum = func() (string, error) {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
				return "", err
			}
			return hex.EncodeToString(h.Sum(nil)), nil
		}
	} else {
		src := &countingReader{r: r, h: sha256.New()}
		rd, err = NewReader(src, name, opts.ReadOptions)
		bytesRead = src.n.Load
		sum = func() (string, error) {
			// Drain what the CSV reader did not need (a trailing newline) so the hash is the file's.
			if _, err := io.Copy(io.Discard, src); err != nil {
				return "", err
			}
			return hex.EncodeToString(src.h.Sum(nil)), nil
		}
	}
	if err != nil {
		var fe *FileError
		if !errors.As(err, &fe) {
			return nil, err
		}
		// A file rejected before any row is read is in the import history too.
		imp.SHA256, _ = sum()
		imp.FinishedAt, imp.Status = now().UTC(), "rejected"
		if werr := importlog.Record(ctx, db, importRecord(imp)); werr != nil {
			return nil, werr
		}
		fe.Import = imp
		return nil, fe
	}
	defer rd.Close()
	rd.transient = true // pass 1 below copies what it keeps of each row (segWriter.add)
	imp.Format, imp.Encoding = rd.Format(), rd.Encoding()
	if opts.fromNDJSON {
		imp.Encoding = "ndjson"
	}
	var listed []*RowError
	rejectsHeader := false
	w := newSegWriter()
	defer w.close()

	// Pass 1: read and check every row; good rows wait in the writer, by day.
	err = rd.Each(ctx, func(rec *Record, bad *RowError) error {
		imp.RowsRead++
		if imp.RowsRead%10000 == 0 && opts.Progress != nil {
			opts.Progress(imp.RowsRead, bytesRead())
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
		if imp.RowsRejected > 0 && !opts.SkipBad {
			return nil // the file will not be imported: only its bad rows are still of interest
		}
		return w.add(rec)
	})
	if err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		opts.Progress(imp.RowsRead, bytesRead())
	}
	if imp.SHA256, err = sum(); err != nil {
		return nil, err
	}
	if imp.RowsRejected > 0 && !opts.SkipBad {
		imp.FinishedAt = now().UTC()
		imp.Status = "rejected"
		// The attempt is recorded too, so the import history shows it.
		if err := importlog.Record(ctx, db, importRecord(imp)); err != nil {
			return nil, err
		}
		return nil, &RejectedError{File: name, Rows: listed, Total: imp.RowsRejected, Import: imp}
	}

	if err := writeImport(ctx, db, w, imp, now); err != nil {
		return nil, err
	}
	return imp, nil
}

// writeImport is pass 2: it writes the new records, day by day, and the import record, in
// one transaction.
func writeImport(ctx context.Context, db *store.DB, w *segWriter, imp *Import, now func() time.Time) error {
	return db.Load(ctx, func(l store.Loader) error {
		if db.Engine() == store.Postgres {
			if _, err := l.Exec(ctx, `SELECT id FROM usage_import_lock WHERE id = 1 FOR UPDATE`); err != nil {
				return fmt.Errorf("waiting for other usage imports: %w", err)
			}
		} else {
			// Segments are appended, not inserted at random places: SQLite's large page
			// cache (internal/store/sqlite) would only add to the import's memory.
			if _, err := l.Exec(ctx, `PRAGMA cache_size = -8192`); err != nil {
				return err
			}
			defer func() { _, _ = l.Exec(ctx, `PRAGMA cache_size = -65536`) }() // the connection's default again
		}
		added, err := w.finish(ctx, l, imp.ID, imp.Measure)
		if err != nil {
			return err
		}
		imp.RowsAdded = added
		imp.RowsDuplicate = imp.RowsRead - imp.RowsRejected - imp.RowsAdded
		imp.FinishedAt = now().UTC()
		imp.Status = "done"
		return importlog.Insert(ctx, l, importRecord(imp))
	})
}

// ImportRecords imports records that are already parsed (programs and tests that make
// usage rather than read it), exactly as ImportReader imports a file's rows: one
// transaction, duplicates skipped. name is the import's name in the history.
func ImportRecords(ctx context.Context, db *store.DB, name string, recs []Record, opts ImportOptions) (*Import, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	imp := &Import{ID: store.NewID(), File: name, Format: "records", Measure: opts.measure(), StartedAt: now().UTC()}
	w := newSegWriter()
	defer w.close()
	for i := range recs {
		r := &recs[i]
		if r.End <= r.Start {
			return nil, fmt.Errorf("record %d (%q): charge end %s is not after its start %s", i, r.Key, timeline.Format(r.End), timeline.Format(r.Start))
		}
		if err := w.add(r); err != nil {
			return nil, err
		}
		imp.RowsRead++
	}
	if err := writeImport(ctx, db, w, imp, now); err != nil {
		return nil, err
	}
	return imp, nil
}

// importRecord is imp as the import log records it (kind "usage").
func importRecord(imp *Import) importlog.Import {
	summary, _ := json.Marshal(map[string]string{"format": imp.Format, "encoding": imp.Encoding, "measure": imp.Measure})
	return importlog.Import{ID: imp.ID, Kind: "usage", FileName: imp.File, FileHash: imp.SHA256, RowsRead: imp.RowsRead,
		RowsAdded: imp.RowsAdded, RowsDuplicate: imp.RowsDuplicate, RowsRejected: imp.RowsRejected, Summary: string(summary),
		StartedAt: imp.StartedAt.UnixNano(), FinishedAt: imp.FinishedAt.UnixNano(), Status: imp.Status}
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

// Imports lists the recorded usage imports, newest first.
func Imports(ctx context.Context, q store.Querier, limit int) ([]*Import, error) {
	ims, err := importlog.List(ctx, q, "usage", limit)
	if err != nil {
		return nil, err
	}
	out := make([]*Import, len(ims))
	for i, im := range ims {
		var s map[string]string
		_ = json.Unmarshal([]byte(im.Summary), &s)
		out[i] = &Import{ID: im.ID, File: im.FileName, SHA256: im.FileHash, Format: s["format"], Encoding: s["encoding"], Measure: s["measure"],
			RowsRead: im.RowsRead, RowsAdded: im.RowsAdded, RowsDuplicate: im.RowsDuplicate, RowsRejected: im.RowsRejected,
			StartedAt: timeline.Time(im.StartedAt), FinishedAt: timeline.Time(im.FinishedAt), Status: im.Status}
	}
	return out, nil
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
	defer rd.Close()
	return rd.Each(ctx, func(rec *Record, bad *RowError) error {
		if bad != nil {
			return bad
		}
		return fn(rec)
	})
}
