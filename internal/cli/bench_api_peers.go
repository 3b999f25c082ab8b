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
	"strconv"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/link/groupcommit"
	"github.com/partnerlink/partnerlink/internal/store"
)

// The peers of `bench api`: what the same machine does, in the same run, for the parts of a
// link request that are not the link logic. Each API phase is printed with its ratio to the
// peer that matches it, so a result says how much the link API costs over its floor rather
// than how fast the machine happened to be. Every peer runs in the same process, with the
// same client (connection pool), the same number of clients and the same phase length, taking
// turns with its phase (interleave) so that both see the same load.
//
//   - The transaction is pgbench -N's ("simple update": update one account's balance by a
//     random delta, read the balance, insert a history row) on tables of pgbench's shape in
//     the database under test; each client updates its own account, as each link client
//     writes its own link. It is sent the way a link write is: two batches (the update and
//     select; the insert), through the same pool (PostgreSQL: the same driver, two pipelined
//     round trips) or write gate and prepared statements (SQLite).
//   - "pgbench -N tx, own commits": the transaction called directly, a commit each
//     (groupcommit.Committer.PipelineTx), as pgbench runs it: the database's own cost of a small write
//     transaction.
//   - "pgbench -N tx, shared commits": the same through groupcommit.Committer.GroupTx, which lets
//     concurrent transactions share a commit as link writes do.
//   - The write floor, the write phase's peer: the same PUT, PATCH and DELETE requests to a
//     handler that runs the shared-commit transaction for the caller (named by its
//     Authorization header) and answers with the bytes of a recorded link response. The
//     ratio is what the link logic costs over HTTP and the database's own transaction: token
//     check, the lock and reads, five row writes instead of two, the directory check, JSON.
//   - The HTTP floor, the GET phase's peer: the same GET requests to the same handler, which
//     answers with the bytes of a recorded GET response (same headers, same body) and does
//     nothing else: no token check, no database.
//   - The mixed floor: the mixed phase's requests, schedule and rate, sent to the floor
//     handler. The mixed phase's p99 is compared with its p99.

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

// tx is one pgbench -N transaction for client (0-based), in two batches like a link write,
// sharing its commit with concurrent ones (GroupTx) or not (PipelineTx).
func (f *writeFloor) tx(ctx context.Context, client int, r *rand.Rand, shared bool) error {
	aid := client + 1
	delta := r.IntN(10001) - 5000
	tid := 1 + r.IntN(10)
	run := groupcommit.For(f.db).PipelineTx
	if shared {
		run = func(ctx context.Context, fn func(groupcommit.Pipe) error) error {
			return groupcommit.For(f.db).GroupTx(ctx, strconv.Itoa(aid), fn)
		}
	}
	return run(ctx, func(p groupcommit.Pipe) error {
		var balance int64
		var b1 groupcommit.Batch
		b1.Exec(`UPDATE `+floorAccounts+` SET abalance = abalance + $1 WHERE aid = $2`, delta, aid)
		b1.QueryRow(func(r groupcommit.Row) error { return r.Scan(&balance) }, `SELECT abalance FROM `+floorAccounts+` WHERE aid = $1`, aid)
		if err := p.Send(ctx, &b1); err != nil {
			return err
		}
		var b2 groupcommit.Batch
		b2.Exec(`INSERT INTO `+floorHistory+` (tid, bid, aid, delta, mtime, filler) VALUES ($1, 1, $2, $3, $4, '')`, tid, aid, delta, time.Now().UnixNano())
		return p.Commit(ctx, &b2)
	})
}

// httpFloor serves recorded responses and does nothing else, except run the write floor's
// transaction for a write.
type httpFloor struct {
	srv  *http.Server
	base string // same path as the link API, on the floor's own listener
}

// recordedResponse is a response of the link API as the client received it.
type recordedResponse struct {
	status int
	header http.Header
	body   []byte
}

type recorded struct{ get, put, del recordedResponse }

// record makes one request and keeps the status, the headers the handler set and the body.
// Date and Content-Length are left out: net/http adds them to every response, the floor's too.
func record(ctx context.Context, c *http.Client, method, url, token string) (recordedResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, url+"?api-version=2018-02-01", nil)
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
		return recordedResponse{}, fmt.Errorf("recording a %s for the floor server: the server answered %d, want 200", method, resp.StatusCode)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	return recordedResponse{status: resp.StatusCode, header: h, body: body}, nil
}

// startHTTPFloor serves GET with the recorded GET response; PUT and PATCH run write (with the
// request's Authorization header, which names the client) and answer with the recorded PUT
// response, DELETE likewise with the recorded DELETE response.
func startHTTPFloor(rec recorded, write func(ctx context.Context, authorization string) error) (*httpFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := rec.get
		switch r.Method {
		case http.MethodPut, http.MethodPatch, http.MethodDelete:
			if err := write(r.Context(), r.Header.Get("Authorization")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			resp = rec.put
			if r.Method == http.MethodDelete {
				resp = rec.del
			}
		}
		for k, v := range resp.header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body)
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
