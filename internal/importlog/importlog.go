// Package importlog owns the imports table: one row per import of an estate file, an Azure
// export or a usage file, written in the import's own transaction and read by the operator
// report and `partnerlink usage imports`. It holds no rules; the importers fill in the row.
package importlog

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/table"
)

// Done is the status of an import that committed (the usage import also records "rejected").
const Done = "done"

// Import is one import's record. Times are Unix nanoseconds.
type Import struct {
	ID, Kind, FileName, FileHash                     string
	RowsRead, RowsAdded, RowsDuplicate, RowsRejected int64
	Summary                                          string // JSON: what the importer reports (per-kind counts, ...)
	StartedAt, FinishedAt                            int64
	Status                                           string
}

var imports = &table.Table{Name: "imports", Key: []string{"id"},
	Values: []string{"kind", "file_name", "file_hash", "rows_read", "rows_added", "rows_duplicate", "rows_rejected", "summary", "started_at", "finished_at", "status"}}

// Insert records im through ld, in the import's transaction.
func Insert(ctx context.Context, ld store.Loader, im Import) error {
	if im.Summary == "" {
		im.Summary = "{}"
	}
	_, err := imports.Insert(ctx, ld, [][]any{{im.ID, im.Kind, im.FileName, im.FileHash, im.RowsRead, im.RowsAdded, im.RowsDuplicate,
		im.RowsRejected, im.Summary, im.StartedAt, im.FinishedAt, im.Status}}, false)
	return err
}

// Record records im in a transaction of its own (an import refused before it wrote anything).
func Record(ctx context.Context, db *store.DB, im Import) error {
	return db.Translate(db.TxLoad(ctx, func(_ store.Querier, ld store.Loader) error { return Insert(ctx, ld, im) }))
}

// List returns up to limit imports, newest first (by start, then ID); of one kind when kind is
// not empty.
func List(ctx context.Context, q store.Querier, kind string, limit int) ([]Import, error) {
	var out []Import
	err := store.Each(ctx, q, `SELECT id, kind, file_name, file_hash, rows_read, rows_added, rows_duplicate, rows_rejected, summary,
	started_at, finished_at, status FROM imports WHERE $1 = '' OR kind = $1 ORDER BY started_at DESC, id DESC LIMIT `+strconv.Itoa(limit),
		[]any{kind}, func(r *sql.Rows) error {
			var im Import
			err := r.Scan(&im.ID, &im.Kind, &im.FileName, &im.FileHash, &im.RowsRead, &im.RowsAdded, &im.RowsDuplicate, &im.RowsRejected,
				&im.Summary, &im.StartedAt, &im.FinishedAt, &im.Status)
			out = append(out, im)
			return err
		})
	return out, err
}
