package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/store"
)

// attachBenchAPI adds `bench api` under the root's bench command (root.go creates it).
func attachBenchAPI(app *App, root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "bench" {
			c.AddCommand(newBenchAPICmd(app))
			return
		}
	}
}

func newBenchAPICmd(app *App) *cobra.Command {
	var concurrency, rate int
	var duration time.Duration
	var cpuProfile string
	c := &cobra.Command{
		Use:   "api",
		Short: "Benchmark the ARM link API on loopback: req/s and p50/p99 for writes, GET and a paced mix",
		Long: `api starts the full HTTP server on 127.0.0.1 against the database given by --db, seeds a
bench partner organisation, and drives the ARM-compatible link API with --concurrency clients in
three phases: writes as fast as possible (each client cycles PUT, PATCH, DELETE on its own
principal's link), GETs of the caller's link as fast as possible, and a mix of three GETs to one
write sent at a fixed --rate (open loop; latency counts from each request's scheduled time).

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
database: use a scratch database. --duration is the time of the three API phases; the five
peers take 5/3 as long again.
`,
		Example: `  partnerlink bench api --db /tmp/bench.db --concurrency 32 --duration 15s
  partnerlink bench api --db 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable' --rate 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if concurrency < 1 || duration <= 0 || rate < 1 {
				return UsageError{fmt.Errorf("--concurrency and --rate must be at least 1 and --duration positive (got %d, %d, %s)", concurrency, rate, duration)}
			}
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
			return benchAPI(cmd.Context(), app, concurrency, rate, duration)
		},
	}
	c.Flags().IntVar(&concurrency, "concurrency", 32, "concurrent clients")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (server and clients) to this file")
	c.Flags().DurationVar(&duration, "duration", 15*time.Second, "time of the write, GET and mixed phases together (each peer runs as long as its phase)")
	c.Flags().IntVar(&rate, "rate", 1000, "requests per second of the mixed phase (open loop)")
	return c
}

func benchAPI(ctx context.Context, app *App, concurrency, rate int, duration time.Duration) error {
	db, err := app.OpenDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	load := loadAverage() // before the run adds its own load
	org := directory.Organisation{ID: "bench-org", Name: "Bench Partner", Locations: []directory.Location{{ID: "bench-loc-1", Name: "Bench 1"}, {ID: "bench-loc-2", Name: "Bench 2"}}}
	if err := directory.Put(ctx, db, org); err != nil {
		return err
	}
	floor, err := newWriteFloor(ctx, db, concurrency)
	if err != nil {
		return err
	}
	defer func() { _ = floor.drop(context.Background()) }()
	h, stop, err := buildServer(ctx, app, api.Deps{DB: db, Log: app.Log, Now: app.Now})
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
	key, err := auth.LoadOrCreateKey(ctx, db, app.Now)
	if err != nil {
		return err
	}
	tokens := make([]string, concurrency)
	for i := range tokens {
		if tokens[i], err = key.Mint(auth.Claims{TenantID: "bench", ObjectID: fmt.Sprintf("bench-%04d", i), IDType: "user"}, app.Now(), 2*time.Hour); err != nil {
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
	recTok, err := key.Mint(auth.Claims{TenantID: "bench", ObjectID: "bench-r000", IDType: "user"}, app.Now(), 2*time.Hour)
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
		if writers[i], err = key.Mint(auth.Claims{TenantID: "bench", ObjectID: fmt.Sprintf("bench-mixed-%04d", i), IDType: "user"}, app.Now(), 2*time.Hour); err != nil {
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
	fmt.Fprintf(app.Stdout, "engine %s, concurrency %d, %s per phase, load average %s at the start\n", db.Engine(), concurrency, phase, load)
	fmt.Fprintf(app.Stdout, "%-34s %9s %9s %10s %10s  %s\n", "phase", "requests", "req/s", "p50", "p99", "vs peer")
	out := app.Stdout
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
		return phaseResult{}, store.NewError(store.ErrInternal, name+": no request completed", nil)
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
