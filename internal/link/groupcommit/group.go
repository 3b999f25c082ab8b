package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
)

// GroupTx runs fn in a transaction like PipelineTx, but lets concurrent GroupTx calls share
// one: while one group of calls runs, the calls that arrive queue, and the next group runs
// all of them in one transaction, each call's function inside a savepoint of its own, and
// commits once.
//
// Each function sees the database as if the calls had run one after another (in the order of
// their keys; calls with the same key in the order they arrived). A function that fails gets
// its own error and leaves nothing behind; the others are unaffected: the group first runs
// without savepoints, and if any function fails it is rolled back and run again with each
// function inside a savepoint of its own, rolled back alone if it fails. A call returns only
// after the shared commit; if that fails (after PipelineTx's retries), nothing of the group
// committed, and each call is run again alone, so that it fails only if it fails on its own
// (unless the failure was the database being unavailable, which every call gets). fn must not
// call GroupTx or start another write transaction: it runs while the group holds the write.
//
// Why: a commit has a fixed cost that sharing saves. On SQLite one writer at a time holds the
// file and every commit writes each page it changed to the log, and consecutive link writes
// change the same pages (the newest rows of history and events, the links index); on
// PostgreSQL, a transaction that sends a notification (the link triggers do) commits,
// including its log flush, while holding a lock that serialises all such commits in the
// cluster.
//
// key names what fn locks, for PostgreSQL: calls with different keys may run in different
// transactions at the same time (up to postgresLanes), calls with the same key never do, and a
// group takes its row locks in key order, so two groups (of this process or another) cannot
// deadlock over the rows their keys name. fn must lock only rows its key names, and be safe
// to run more than once. The functions run without their callers' cancellation (a call whose
// context ends while it is still queued returns at once without running).
func (c *Committer) GroupTx(ctx context.Context, key string, fn func(Pipe) error) error {
	return c.db.Retry(ctx, func() error { return c.groupOnce(ctx, key, fn) })
}

const (
	// maxGroup bounds the calls in one transaction. A PostgreSQL backend keeps the IDs of up
	// to 64 subtransactions (savepoints that wrote) in shared memory; beyond that every
	// snapshot in the cluster gets slower.
	maxGroup = 32
	// postgresLanes is how many groups of one process may run at the same time on
	// PostgreSQL. SQLite has one writer, so one lane.
	postgresLanes = 4
	savepoint     = "partnerlink_group_member"
)

// lane queues the calls of one group at a time. Leading passes from call to call: the call
// that finds no leader runs the queue's first group, and on finishing hands the lead to the
// first call still queued.
type lane struct {
	mu      sync.Mutex
	queue   []*groupJob
	leading bool // a call leads; false only while the queue is empty
	// conn is the SQLite lane's own connection, used only by the leading call, with the
	// statements prepared on it. SQLite empties a connection's page cache whenever another
	// connection has committed; on the connection that makes the commits the pages stay
	// cached. Its transactions are plain BEGIN IMMEDIATE and COMMIT statements, and its
	// statements are prepared on it once: database/sql's transactions re-bind every
	// prepared statement to their connection on each use, which cost as much as a
	// statement.
	connMu sync.Mutex // held while conn is used, and when the database closes
	conn   *sql.Conn
	stmts  map[string]*sql.Stmt
	closed bool
	ckpt   *checkpointer // started with the first connection, which also hooks DB.Close
}

// checkpointInterval is the most often the checkpointer runs: a commit is checkpointed within it.
const checkpointInterval = 200 * time.Millisecond

// checkpointer copies the SQLite log into the database file in the background, on a pool
// connection, so that the checkpoint a commit makes (SQLite's default: whenever the log passes
// 1000 pages, copying it all and fsyncing while the write waits, and every write queued behind
// it) is rare and has little left to copy. PASSIVE never waits for readers or writers, and a
// writer never waits for it. It runs after commits, at most every checkpointInterval.
type checkpointer struct {
	kicks chan struct{}
	quit  chan struct{}
	done  chan struct{}
}

func startCheckpointer(db *store.DB) *checkpointer {
	c := &checkpointer{kicks: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.quit:
				return
			case <-c.kicks:
			}
			// A failure (the file busy, say) leaves the log to the next run.
			_, _ = db.DB.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
			select {
			case <-c.quit:
				return
			case <-time.After(checkpointInterval):
			}
		}
	}()
	return c
}

// kick asks for a checkpoint after a commit; kicks while one is due collapse into it.
func (c *checkpointer) kick() {
	select {
	case c.kicks <- struct{}{}:
	default:
	}
}

func (c *checkpointer) stop() {
	close(c.quit)
	<-c.done
}

type groupJob struct {
	ctx   context.Context
	key   string
	fn    func(Pipe) error
	msg   chan groupMsg // the lead (at most once, while queued), then the result
	taken bool          // in a running group (under lane.mu)
	lead  bool          // the lead was handed to it (under lane.mu)
}

type groupMsg struct {
	lead bool
	err  error
}

func (c *Committer) lane(key string) *lane {
	c.once.Do(func() {
		n := 1
		if c.db.Engine() == store.Postgres {
			n = postgresLanes
		}
		for range n {
			c.lanes = append(c.lanes, &lane{})
		}
	})
	if len(c.lanes) == 1 {
		return c.lanes[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return c.lanes[h.Sum32()%uint32(len(c.lanes))]
}

func (c *Committer) groupOnce(ctx context.Context, key string, fn func(Pipe) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l := c.lane(key)
	j := &groupJob{ctx: ctx, key: key, fn: fn, msg: make(chan groupMsg, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, j)
	lead := !l.leading
	l.leading = true
	l.mu.Unlock()
	done := ctx.Done()
	for {
		if lead {
			lead = false
			c.leadGroup(l)
		}
		select {
		case m := <-j.msg:
			if m.lead {
				lead = true
				continue
			}
			return m.err
		case <-done:
			l.mu.Lock()
			if !j.taken && !j.lead {
				l.queue = slices.DeleteFunc(l.queue, func(q *groupJob) bool { return q == j })
				l.mu.Unlock()
				return ctx.Err()
			}
			l.mu.Unlock()
			done = nil // it runs, or is to lead: wait for that
		}
	}
}

// leadGroup runs the first group of l's queue, answers its calls and hands the lead on.
func (c *Committer) leadGroup(l *lane) {
	l.mu.Lock()
	n := min(len(l.queue), maxGroup)
	jobs := slices.Clone(l.queue[:n])
	l.queue = slices.Clone(l.queue[n:])
	for _, j := range jobs {
		j.taken = true
	}
	l.mu.Unlock()
	c.runs.Add(1)
	errs := c.runGroup(l, jobs)
	for i, j := range jobs {
		j.msg <- groupMsg{err: errs[i]}
	}
	l.mu.Lock()
	if len(l.queue) > 0 {
		next := l.queue[0]
		next.lead = true
		next.msg <- groupMsg{lead: true}
	} else {
		l.leading = false
	}
	l.mu.Unlock()
}

// runGroup runs jobs in one transaction and returns each one's outcome.
func (c *Committer) runGroup(l *lane, jobs []*groupJob) []error {
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(jobs[a].key, jobs[b].key) })
	errs, failed, groupErr := c.groupAttempt(l, jobs, order, false)
	if failed {
		errs, _, groupErr = c.groupAttempt(l, jobs, order, true)
	}
	if groupErr != nil && len(jobs) > 1 && !errors.Is(groupErr, store.ErrUnavailable) {
		// The shared transaction failed (its commit, say): nothing of it committed. Run each
		// call alone, so that a call fails only if it fails on its own. Not when the database
		// is unavailable or busy (after the retries): alone, each call would only wait as long
		// again.
		for _, i := range order {
			// Alone, a failing call is the transaction's own outcome, never failed.
			e, _, _ := c.groupAttempt(l, jobs[i:i+1], []int{0}, false)
			errs[i] = e[0]
		}
	}
	return errs
}

// errMemberFailed rolls back a group run without savepoints in which a function failed.
var errMemberFailed = errors.New("group transaction: a call failed")

// groupAttempt runs jobs in order in one transaction. Without savepoints it stops at the
// first function that fails, rolls back and reports failed. If the transaction fails, every
// job's error is that failure, also returned as groupErr.
func (c *Committer) groupAttempt(l *lane, jobs []*groupJob, order []int, savepoints bool) (errs []error, failed bool, groupErr error) {
	c.attempts.Add(1)
	errs = make([]error, len(jobs))
	tx := c.PipelineTx
	// A pool of one or two connections (an in-memory database has one) cannot spare one.
	if n := c.db.Stats().MaxOpenConnections; c.db.Engine() == store.SQLite && (n == 0 || n > 2) {
		tx = func(ctx context.Context, fn func(Pipe) error) error { return c.sqliteGroupTx(ctx, l, fn) }
	}
	err := tx(context.Background(), func(p Pipe) error {
		clear(errs)
		for _, i := range order {
			j := jobs[i]
			if err := j.ctx.Err(); err != nil {
				errs[i] = err // gone before its turn: not run
				continue
			}
			m := &member{p: p, ctx: context.WithoutCancel(j.ctx), savepoints: savepoints}
			ferr := m.run(j.fn)
			if ferr != nil && !savepoints {
				if len(jobs) == 1 {
					return ferr // rolled back: the call's own outcome
				}
				return errMemberFailed
			}
			if err := m.end(ferr); err != nil {
				return err
			}
			errs[i] = ferr
		}
		return nil
	})
	if errors.Is(err, errMemberFailed) {
		return nil, true, nil
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs, false, err
}

// sqliteGroupTx is PipelineTx on SQLite (through the write gate, with retries) on l's own
// connection. l's leader calls it, so one call at a time uses l.conn.
func (c *Committer) sqliteGroupTx(ctx context.Context, l *lane, fn func(Pipe) error) error {
	db := c.db
	return db.Retry(ctx, func() error {
		release, err := db.WriteTurn(ctx)
		if err != nil {
			return err
		}
		defer release()
		l.connMu.Lock()
		defer l.connMu.Unlock()
		if l.conn == nil {
			if l.closed {
				return errors.New("group transaction: the database is closed")
			}
			if l.conn, err = db.DB.Conn(ctx); err != nil {
				l.conn = nil
				return err
			}
			l.stmts = map[string]*sql.Stmt{}
			// This connection makes most commits. The lane's checkpointer does most of the
			// copying in the background; this connection still checkpoints when the log
			// reaches 4000 pages (16 MiB) instead of 1000, because only a checkpoint that
			// catches up with the last frame lets the next write start the log again, which
			// under continuous writes only one inside the write does (with none here, the log
			// grew to 122 MB in a 40 s benchmark).
			if _, err := l.conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 4000"); err != nil {
				l.closeConn()
				return err
			}
			if l.ckpt == nil {
				l.ckpt = startCheckpointer(db)
				db.OnClose(func() error {
					l.ckpt.stop()
					l.connMu.Lock()
					defer l.connMu.Unlock()
					l.closed = true
					l.closeConn()
					return nil
				})
			}
		}
		broken, err := connPipe{l: l}.tx(ctx, fn)
		if err == nil {
			l.ckpt.kick()
		}
		if broken {
			// Start again on a fresh connection: a broken one, or one left inside a
			// transaction, would fail every group after it. A call that failed and was rolled
			// back (a refused write) leaves the connection as it was, with its statements
			// prepared and its pages cached.
			l.closeConn()
		}
		return err
	})
}

func (l *lane) closeConn() {
	if l.conn == nil {
		return
	}
	for _, st := range l.stmts {
		_ = st.Close()
	}
	_ = l.conn.Close()
	l.conn, l.stmts = nil, nil
}

// connPipe runs a transaction's batches on a lane's connection, statement by statement.
type connPipe struct{ l *lane }

func (p connPipe) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.l.stmts[query]; ok {
		return st, nil
	}
	st, err := p.l.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.l.stmts[query] = st
	return st, nil
}

func (p connPipe) exec(ctx context.Context, query string) error {
	_, err := p.ExecContext(ctx, query)
	return err
}

// tx runs fn in a transaction; broken reports that the connection's state is unknown (BEGIN,
// ROLLBACK or COMMIT failed).
func (p connPipe) tx(ctx context.Context, fn func(Pipe) error) (broken bool, err error) {
	if err := p.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return true, err
	}
	if err := fn(p); err != nil {
		if rerr := p.exec(context.Background(), "ROLLBACK"); rerr != nil {
			return true, errors.Join(err, rerr)
		}
		return false, err
	}
	if err := p.exec(ctx, "COMMIT"); err != nil {
		// A failed COMMIT may leave the transaction open (SQLITE_BUSY): end it.
		_ = p.exec(context.Background(), "ROLLBACK")
		return true, err
	}
	return false, nil
}

// Send and Commit run b's statements through the connection's prepared statements (p is a
// Querier), as sqlPipe does in a database/sql transaction; tx commits when fn returns.
func (p connPipe) Send(ctx context.Context, b *Batch) error   { return sqlPipe{q: p}.Send(ctx, b) }
func (p connPipe) Commit(ctx context.Context, b *Batch) error { return sqlPipe{q: p}.Send(ctx, b) }

func (p connPipe) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p connPipe) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p connPipe) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.l.conn.QueryRowContext(ctx, query, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// PipeQuerier returns a Querier whose statements run inside p's transaction, on its
// connection, one at a time, when p offers one: the pipes of SQLite transactions do (there a
// statement costs no round trip), PostgreSQL's do not.
func PipeQuerier(p Pipe) (store.Querier, bool) {
	if m, ok := p.(*member); ok {
		p = m.p
	}
	q, ok := p.(store.Querier)
	return q, ok
}

// member is the Pipe of one call in a group: its statements run inside a savepoint, set with
// its first batch and released with its last.
type member struct {
	p          Pipe
	ctx        context.Context
	savepoints bool // without, batches pass through as they are
	open       bool // the savepoint is set
	released   bool // and released: the call's part is done
}

// run calls fn. A panic in it fails the call with an error rather than the leading call's
// goroutine, which would leave the lane's other calls waiting for ever.
func (m *member) run(fn func(Pipe) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("group transaction: the call's function panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(m)
}

func (m *member) Send(_ context.Context, b *Batch) error { return m.send(b, false) }

// Commit sends b and releases the savepoint; the group commits later.
func (m *member) Commit(_ context.Context, b *Batch) error { return m.send(b, true) }

func (m *member) send(b *Batch, release bool) error {
	if m.released {
		return errors.New("group transaction: the call already committed its part")
	}
	if !m.savepoints {
		m.released = release
		return m.p.Send(m.ctx, b)
	}
	var out Batch
	if !m.open {
		out.Exec("SAVEPOINT " + savepoint)
	}
	if b != nil {
		out.Stmts = append(out.Stmts, b.Stmts...)
	}
	if release {
		out.Exec("RELEASE SAVEPOINT " + savepoint)
	}
	m.open = true
	err := m.p.Send(m.ctx, &out)
	if err == nil && release {
		m.released = true
	}
	return err
}

// end finishes the call's part after its function returned ferr: released if it succeeded,
// rolled back to the savepoint if it failed. An error means the group's transaction is not
// usable any more.
func (m *member) end(ferr error) error {
	switch {
	case !m.savepoints:
		return ferr
	case !m.open:
		return nil
	case m.released && ferr != nil:
		// As in PipelineTx on SQLite, failing after Commit rolls the transaction back: here,
		// the whole group's.
		return fmt.Errorf("group transaction: a call failed after committing its part: %w", ferr)
	case m.released:
		return nil
	case ferr == nil:
		var b Batch
		b.Exec("RELEASE SAVEPOINT " + savepoint)
		return m.p.Send(m.ctx, &b)
	default:
		// Two batches: in a PostgreSQL transaction that a failed statement aborted, only
		// statements that end it may even be prepared, and pgx prepares a batch's new
		// statements before running any of them.
		var b1, b2 Batch
		b1.Exec("ROLLBACK TO SAVEPOINT " + savepoint)
		b2.Exec("RELEASE SAVEPOINT " + savepoint)
		if err := m.p.Send(m.ctx, &b1); err != nil {
			return err
		}
		return m.p.Send(m.ctx, &b2)
	}
}
