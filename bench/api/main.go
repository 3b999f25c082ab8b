// Command api benchmarks the ARM link API of partnerlink on loopback: requests per second and
// p50/p99 latency for writes, GETs and a paced mix, each with its ratio to a peer measured in
// the same run. It lived in the partnerlink binary as "bench api" until it moved here, so that
// the binary users run ships no benchmark harness and never creates benchmark tables in their
// database. See ../README.md.
//
//	cd bench && go run ./api -db /tmp/bench.db -concurrency 32 -duration 15s
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/link/groupcommit"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/engines"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

const usage = `api starts the full HTTP server on 127.0.0.1 against the database given by -db, seeds a
bench partner organisation, and drives the ARM-compatible link API with -concurrency clients in
three phases: writes as fast as possible (each client cycles PUT, PATCH, DELETE on its own
principal's link), GETs of the caller's link as fast as possible, and a mix of three GETs to one
write sent at a fixed -rate (open loop; latency counts from each request's scheduled time).

With each phase it measures peers in the same process, with the same client, as many clients
and as long, taking turns with the phase (five turns each, so that all see the same load of a
shared machine), and prints the phase's ratio to its peer: with the writes, pgbench -N's
transaction (on tables of pgbench's shape, sent like a link write) with a commit each, the same
with commits shared as link writes share them, and the write floor: the same HTTP requests to a
handler that runs that transaction and replays a recorded response; with the GETs, the HTTP
floor (the same requests to a handler that only replays a recorded GET response); with the
mix, the mix sent to the floor handler. It prints requests per second and p50/p99 latency per
phase, and the load average at the start. It writes links, history and events of tenant "bench"
and the floor's tables (bench_floor_accounts, bench_floor_history, dropped at the end) into the
database: use a scratch database. -duration is the time of the three API phases; the five
peers take 5/3 as long again.

  go run ./api -db /tmp/bench.db -concurrency 32 -duration 15s
  go run ./api -db 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable' -rate 1000

`

func main() {
	dbValue := flag.String("db", "", "scratch database: an SQLite file path or a postgres:// DSN (required)")
	concurrency := flag.Int("concurrency", 32, "concurrent clients")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run (server and clients) to this file")
	duration := flag.Duration("duration", 15*time.Second, "time of the write, GET and mixed phases together (each peer runs as long as its phase)")
	rate := flag.Int("rate", 1000, "requests per second of the mixed phase (open loop)")
	logLevel := flag.String("log-level", "info", "server log level (the server logs every request at info, as partnerlink serve does)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	flag.Parse()
	var level slog.Level
	if *dbValue == "" || flag.NArg() > 0 || *concurrency < 1 || *duration <= 0 || *rate < 1 || level.UnmarshalText([]byte(*logLevel)) != nil {
		fmt.Fprintf(os.Stderr, "api: give -db, -concurrency and -rate of at least 1, a positive -duration and a -log-level of debug, info, warn or error (got -db %q, %d, %d, %s, %q)\n",
			*dbValue, *concurrency, *rate, *duration, *logLevel)
		os.Exit(2)
	}
	if err := main1(*dbValue, *cpuProfile, *concurrency, *rate, *duration, level); err != nil {
		fmt.Fprintf(os.Stderr, "api: %v\n", err)
		os.Exit(1)
	}
}

func main1(dbValue, cpuProfile string, concurrency, rate int, duration time.Duration, level slog.Level) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	db, err := engines.Open(ctx, dbValue)
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return run(ctx, os.Stdout, log, db, concurrency, rate, duration)
}

// startServer assembles the server as partnerlink serve does with its default settings: tokens
// verified against the database's signing key, the link cache kept in step with the database,
// the webhook worker running. It returns the handler and a function that stops the workers.
func startServer(ctx context.Context, db *store.DB, log *slog.Logger) (http.Handler, func(), error) {
	key, err := auth.LoadOrCreateKey(ctx, db, time.Now)
	if err != nil {
		return nil, nil, err
	}
	d := api.Deps{DB: db, Log: log, Now: time.Now, Authenticate: auth.NewVerifier(key, time.Now).Authenticate,
		LinkCache: link.NewCache(), Webhooks: &webhook.Store{DB: db, Now: time.Now}}
	bg, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.LinkCache.Listen(bg, db, log) })
	w := &webhook.Worker{DB: db, Log: log, Now: time.Now}
	wg.Go(func() { w.Run(bg, 2*time.Second) }) // serve's interval
	return server.New(d, server.Options{}), func() {
		cancel()
		wg.Wait()
	}, nil
}

func run(ctx context.Context, out io.Writer, log *slog.Logger, db *store.DB, concurrency, rate int, duration time.Duration) error {
	load := loadAverage() // before the run adds its own load
	org := directory.Organisation{ID: "bench-org", Name: "Bench Partner", Locations: []directory.Location{{ID: "bench-loc-1", Name: "Bench 1"}, {ID: "bench-loc-2", Name: "Bench 2"}}}
	if err := (directory.Store{DB: db}).Put(ctx, org); err != nil {
		return err
	}
	floor, err := newWriteFloor(ctx, db, concurrency)
	if err != nil {
		return err
	}
	defer func() { _ = floor.drop(context.Background()) }()
	h, stop, err := startServer(ctx, db, log)
	if err != nil {
		return err
	}
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	key, err := auth.LoadOrCreateKey(ctx, db, time.Now)
	if err != nil {
		return err
	}
	tokens := make([]string, concurrency)
	for i := range tokens {
		if tokens[i], err = key.Mint(auth.Claims{TenantID: "bench", ObjectID: fmt.Sprintf("bench-%04d", i), IDType: "user"}, time.Now(), 2*time.Hour); err != nil {
			return err
		}
	}
	base := "http://" + ln.Addr().String() + "/providers/Microsoft.ManagementPartner/partners"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}}
	// Start from a known state: every bench principal unlinked.
	for _, tok := range tokens {
		for _, loc := range []string{"bench-loc-1", "bench-loc-2"} {
			_, _ = call(ctx, client, "DELETE", base+"/"+loc, tok)
		}
	}
	// The floor servers answer with the bytes of real responses, recorded for a principal of
	// its own (an object ID as long as the clients').
	recTok, err := key.Mint(auth.Claims{TenantID: "bench", ObjectID: "bench-r000", IDType: "user"}, time.Now(), 2*time.Hour)
	if err != nil {
		return err
	}
	var recs recorded
	_, _ = call(ctx, client, "DELETE", base+"/bench-loc-1", recTok)
	for _, r := range []struct {
		method string
		into   *recordedResponse
	}{{"PUT", &recs.put}, {"GET", &recs.get}, {"DELETE", &recs.del}} {
		if *r.into, err = record(ctx, client, r.method, base+"/bench-loc-1", recTok); err != nil {
			return err
		}
	}
	rngs := make([]*rand.Rand, concurrency)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 1))
	}
	// The mixed phase's writers: a second principal per client.
	writers := make([]string, concurrency)
	for i := range writers {
		if writers[i], err = key.Mint(auth.Claims{TenantID: "bench", ObjectID: fmt.Sprintf("bench-mixed-%04d", i), IDType: "user"}, time.Now(), 2*time.Hour); err != nil {
			return err
		}
	}
	// The floor server's writes: client i's requests update floor account i.
	workerOf := map[string]int{}
	for i := range tokens {
		workerOf["Bearer "+tokens[i]] = i
		workerOf["Bearer "+writers[i]] = i
	}
	hf, err := startHTTPFloor(recs, func(ctx context.Context, auth string) error {
		w, ok := workerOf[auth]
		if !ok {
			return errors.New("unknown client")
		}
		return floor.tx(ctx, w, rngs[w], true)
	})
	if err != nil {
		return err
	}
	defer hf.srv.Close()

	phase := duration / 3
	fmt.Fprintf(out, "engine %s, concurrency %d, %s per phase, load average %s at the start\n", db.Engine(), concurrency, phase, load)
	fmt.Fprintf(out, "%-34s %9s %9s %10s %10s  %s\n", "phase", "requests", "req/s", "p50", "p99", "vs peer")
	printAll := func(rs []phaseResult) {
		for _, r := range rs {
			if strings.HasPrefix(r.name, "peer") {
				r.print(out, nil)
			}
		}
	}

	// Writes, with their peers.
	writes := []struct{ method, loc string }{{"PUT", "bench-loc-1"}, {"PATCH", "bench-loc-2"}, {"DELETE", "bench-loc-2"}}
	writeCycle := func(base string) func(worker, i int) error {
		return func(worker, i int) error {
			w := writes[i%len(writes)]
			return expectOK(call(ctx, client, w.method, base+"/"+w.loc, tokens[worker]))
		}
	}
	rs, err := interleave(ctx, concurrency, phase,
		&phaseSpec{name: "peer: pgbench -N tx, own commits", fn: func(worker, _ int) error { return floor.tx(ctx, worker, rngs[worker], false) }},
		&phaseSpec{name: "peer: pgbench -N tx, shared commits", fn: func(worker, _ int) error { return floor.tx(ctx, worker, rngs[worker], true) }},
		&phaseSpec{name: "peer: write floor (HTTP + the tx)", fn: writeCycle(hf.base)},
		&phaseSpec{name: "write (PUT/PATCH/DELETE)", fn: writeCycle(base)})
	if err != nil {
		return err
	}
	printAll(rs)
	rs[3].print(out, &rs[2], &rs[1], &rs[0])
	for _, tok := range tokens {
		_, _ = call(ctx, client, "DELETE", base+"/bench-loc-2", tok) // a client may have stopped mid-cycle
		if err := expectOK(call(ctx, client, "PUT", base+"/bench-loc-1", tok)); err != nil {
			return err
		}
	}

	// GETs.
	get := func(base string) func(worker, i int) error {
		return func(worker, _ int) error {
			return expectOK(call(ctx, client, "GET", base+"/bench-loc-1", tokens[worker]))
		}
	}
	rs, err = interleave(ctx, concurrency, phase,
		&phaseSpec{name: fmt.Sprintf("peer: HTTP floor (%d-byte body)", len(recs.get.body)), fn: get(hf.base)},
		&phaseSpec{name: "GET", fn: get(base)})
	if err != nil {
		return err
	}
	printAll(rs)
	rs[1].print(out, &rs[0])

	// Mixed, at a fixed arrival rate: three GETs of a linked principal, then one write of the
	// worker's own second principal (PUT, PATCH, DELETE in turn), so the write cycle stays valid.
	// Its floor sends the same requests to the floor server (whose writes are of the first
	// principal's floor account).
	for _, w := range writers {
		for _, loc := range []string{"bench-loc-1", "bench-loc-2"} {
			_, _ = call(ctx, client, "DELETE", base+"/"+loc, w)
		}
	}
	mixed := func(base string) func(worker, i int) error {
		return func(worker, i int) error {
			if i%4 != 3 {
				return expectOK(call(ctx, client, "GET", base+"/bench-loc-1", tokens[worker]))
			}
			w := writes[(i/4)%len(writes)]
			return expectOK(call(ctx, client, w.method, base+"/"+w.loc, writers[worker]))
		}
	}
	rs, err = interleave(ctx, concurrency, phase,
		&phaseSpec{name: fmt.Sprintf("peer: mixed floor 3:1 at %d req/s", rate), rate: rate, fn: mixed(hf.base)},
		&phaseSpec{name: fmt.Sprintf("mixed 3:1 at %d req/s", rate), rate: rate, fn: mixed(base)})
	if err != nil {
		return err
	}
	printAll(rs)
	rs[1].print(out, &rs[0])
	return nil
}

// turns is how many turns each phase of an interleaved group takes (see interleave).
const turns = 5

// phaseSpec is one phase of an interleaved group.
type phaseSpec struct {
	name string
	rate int // requests per second of a paced (open-loop) phase; 0: as fast as possible
	fn   func(worker, i int) error
	// Across turns: each worker's next request number (so a cycle of writes carries on where
	// the previous turn stopped), and what was measured.
	next    []int
	lat     []time.Duration
	elapsed time.Duration
}

// interleave runs a phase and its peers by turns: turns rounds, each giving every phase d/turns
// of the clock (in reverse order every other round), so that all of them see the same load of a
// shared machine rather than each its own stretch of it. It returns the phases' results in order.
func interleave(ctx context.Context, n int, d time.Duration, specs ...*phaseSpec) ([]phaseResult, error) {
	for _, sp := range specs {
		sp.next = make([]int, n)
	}
	turn := d / turns
	for round := range turns {
		order := inOrder(specs, round%2 == 1)
		for _, sp := range order {
			if err := runTurn(ctx, sp, n, turn); err != nil {
				return nil, err
			}
		}
	}
	out := make([]phaseResult, len(specs))
	for i, sp := range specs {
		r, err := summarize(sp.name, sp.lat, sp.elapsed, sp.rate > 0)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func inOrder(specs []*phaseSpec, reverse bool) []*phaseSpec {
	out := slices.Clone(specs)
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// runTurn runs sp.fn from n workers for d. Closed loop (sp.rate 0): each worker sends its
// next request when the previous one is answered. Open loop (sp.rate > 0): requests go out at
// sp.rate in total, worker w owning every n-th slot of the schedule and sending its requests
// in order; latency is measured from each request's scheduled time, so a slow server shows as
// latency instead of silently lowering the rate. The first error stops the run: a benchmark
// of failing requests measures nothing.
func runTurn(ctx context.Context, sp *phaseSpec, n int, d time.Duration) error {
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	var interval time.Duration
	if sp.rate > 0 {
		interval = time.Second / time.Duration(sp.rate)
	}
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			var lat []time.Duration
			for k := 0; ctx.Err() == nil; k++ {
				due := time.Now()
				if sp.rate > 0 {
					due = start.Add(time.Duration(k*n+w) * interval)
				}
				if due.Sub(start) >= d {
					break
				}
				time.Sleep(time.Until(due)) // open loop: wait for the slot
				i := sp.next[w]
				sp.next[w]++
				if err := sp.fn(w, i); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, fmt.Errorf("%s request %d of client %d: %w", sp.name, i, w, err))
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(due))
			}
			mu.Lock()
			sp.lat = append(sp.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if sp.rate > 0 {
		elapsed = max(elapsed, d) // the schedule's length, even if the last slot was early
	}
	sp.elapsed += elapsed
	return firstErr
}

// phaseResult is what one phase measured.
type phaseResult struct {
	name     string
	requests int
	perSec   float64
	p50, p99 time.Duration
	paced    bool // open loop: the rate is given, latency is the result
}

func summarize(name string, all []time.Duration, elapsed time.Duration, paced bool) (phaseResult, error) {
	if len(all) == 0 {
		return phaseResult{}, fmt.Errorf("%s: no request completed", name)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	return phaseResult{name: name, requests: len(all), perSec: float64(len(all)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99), paced: paced}, nil
}

// print writes one line; with a peer, the ratio to it: of requests per second for a phase
// driven as fast as it goes, of p99 for a paced one (whose rate is fixed). A second peer
// (writes: the floor with a commit each) gets its ratio in parentheses.
func (r phaseResult) print(out io.Writer, peer *phaseResult, also ...*phaseResult) {
	vs := ""
	switch {
	case peer == nil:
	case r.paced:
		vs = fmt.Sprintf("p99 %.2fx the peer's", float64(r.p99)/float64(peer.p99))
	default:
		vs = fmt.Sprintf("%.2f of the peer's req/s", r.perSec/peer.perSec)
		for _, a := range also {
			vs += fmt.Sprintf("; %.2f of %s", r.perSec/a.perSec, strings.TrimPrefix(a.name, "peer: "))
		}
	}
	fmt.Fprintf(out, "%-34s %9d %9.0f %10s %10s  %s\n", r.name, r.requests, r.perSec,
		r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), vs)
}

func call(ctx context.Context, c *http.Client, method, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url+"?api-version=2018-02-01", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func expectOK(status int, err error) error {
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("the server answered %d, want 200", status)
	}
	return nil
}

// The peers of the API benchmark: what the same machine does, in the same run, for the parts of a
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
