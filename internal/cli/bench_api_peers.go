package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
)

// The peers of `bench api`: what the same machine does, in the same run, for the parts of a
// link request that are not the link logic. Each API phase is printed with its ratio to the
// peer that matches it, so a result says how much the link API costs over its floor rather
// than how fast the machine happened to be.
//
//   - The HTTP floor serves the bytes of a real link GET response (same headers, same body)
//     from a handler that does nothing else: no authentication, no database. The same client
//     (connection pool, request with the same path, query and Authorization header), the
//     same number of clients and the same phase length drive it. GET is compared with it.
//   - The write floor is the transaction of pgbench -N (the "simple update" script: update
//     one account's balance by a random delta, read the balance, insert a history row), on
//     tables of pgbench's shape in the database under test, sent the way a link write is
//     sent: through store.DB.PipelineTx, so on PostgreSQL the same driver, pool and two
//     pipelined batches (BEGIN with the update and select; the insert with COMMIT), and on
//     SQLite the same write gate and prepared statements. Each client updates its own
//     account, as each link client writes its own link. Writes are compared with it: the
//     ratio is what the link logic (five row writes, lock and reads, the directory check)
//     costs over the database's own cost of a small write transaction. The floor does not
//     go through HTTP.
//   - The mixed floor sends, at the mixed phase's rate and schedule, three HTTP-floor GETs to
//     one write-floor transaction. The mixed phase's p99 is compared with its p99.

// Tables of the write floor, created in the scratch database and dropped after the run.
const (
	floorAccounts = "bench_floor_accounts"
	floorHistory  = "bench_floor_history"
)

// writeFloor runs pgbench -N transactions on db; client i updates account i+1.
type writeFloor struct {
	db *store.DB
}

func newWriteFloor(ctx context.Context, db *store.DB, clients int) (*writeFloor, error) {
	f := &writeFloor{db: db}
	if err := f.drop(ctx); err != nil {
		return nil, err
	}
	// pgbench's tables: pgbench_accounts (aid primary key, bid, abalance, filler char(84))
	// and pgbench_history without any index.
	for _, q := range []string{
		`CREATE TABLE ` + floorAccounts + ` (aid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, abalance INTEGER NOT NULL, filler TEXT NOT NULL)`,
		`CREATE TABLE ` + floorHistory + ` (tid INTEGER NOT NULL, bid INTEGER NOT NULL, aid INTEGER NOT NULL, delta INTEGER NOT NULL, mtime BIGINT NOT NULL, filler TEXT NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, db.Translate(err)
		}
	}
	filler := strings.Repeat(" ", 84)
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		for i := 1; i <= clients; i++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+floorAccounts+` (aid, bid, abalance, filler) VALUES ($1, 1, 0, $2)`, i, filler); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (f *writeFloor) drop(ctx context.Context) error {
	for _, t := range []string{floorHistory, floorAccounts} {
		if _, err := f.db.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return f.db.Translate(err)
		}
	}
	return nil
}

// tx is one pgbench -N transaction for client (0-based), in two batches like a link write.
func (f *writeFloor) tx(ctx context.Context, client int, r *rand.Rand) error {
	aid := client + 1
	delta := r.IntN(10001) - 5000
	tid := 1 + r.IntN(10)
	return f.db.PipelineTx(ctx, func(p store.Pipe) error {
		var balance int64
		var b1 store.Batch
		b1.Exec(`UPDATE `+floorAccounts+` SET abalance = abalance + $1 WHERE aid = $2`, delta, aid)
		b1.QueryRow(func(r store.Row) error { return r.Scan(&balance) }, `SELECT abalance FROM `+floorAccounts+` WHERE aid = $1`, aid)
		if err := p.Send(ctx, &b1); err != nil {
			return err
		}
		var b2 store.Batch
		b2.Exec(`INSERT INTO `+floorHistory+` (tid, bid, aid, delta, mtime, filler) VALUES ($1, 1, $2, $3, $4, '')`, tid, aid, delta, time.Now().UnixNano())
		return p.Commit(ctx, &b2)
	})
}

// httpFloor serves a recorded response and nothing else.
type httpFloor struct {
	srv  *http.Server
	base string // same path as the link API, on the floor's own listener
}

// recordedResponse is a response of the link API as the client received it.
type recordedResponse struct {
	header http.Header
	body   []byte
}

// record makes one request and keeps the headers the handler set and the body. Date and
// Content-Length are left out: net/http adds them to every response, the floor's too.
func record(ctx context.Context, c *http.Client, url, token string) (recordedResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?api-version=2018-02-01", nil)
	if err != nil {
		return recordedResponse{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return recordedResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return recordedResponse{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return recordedResponse{}, fmt.Errorf("recording a GET for the HTTP floor: the server answered %d, want 200", resp.StatusCode)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	return recordedResponse{header: h, body: body}, nil
}

func startHTTPFloor(rec recordedResponse) (*httpFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		_, _ = w.Write(rec.body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &httpFloor{srv: srv, base: "http://" + ln.Addr().String() + "/providers/Microsoft.ManagementPartner/partners"}, nil
}

// loadAverage is the 1, 5 and 15 minute load average, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
