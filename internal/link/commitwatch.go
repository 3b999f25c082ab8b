package link

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"github.com/partnerlink/partnerlink/internal/store"
)

// commitWatch tells the cache whether anything has been committed to an SQLite database since
// it last looked, by any connection of any process: this server's pool, another server on the
// same file, an estate import, the sqlite3 shell. It runs PRAGMA data_version on a connection
// of its own that never writes; SQLite documents that the value changes between two readings
// on one connection exactly when another connection committed a change in between.
//
// Epoch counts the changes seen. Every answer comes from a reading that began after Epoch was
// called, so it covers every commit completed before the call. Readings run one at a time;
// callers arriving while one runs wait for the next, which they then share: under load one
// reading serves many requests.
type commitWatch struct {
	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // readings started
	done    uint64 // readings finished; one runs at a time, so they finish in order
	running bool
	closed  bool
	waiting int // callers waiting for a reading (tests)

	epoch uint64 // +1 whenever a reading saw a change, failed, or had nothing to compare with
	err   error  // of the newest reading
	last  int64  // data_version of the newest reading

	// look takes a reading. fresh reports that it came from a connection with no previous
	// reading to compare with (the first one, or a new one after an error): that counts as a
	// change, since data_version is only comparable on one connection.
	look func() (v int64, fresh bool, err error)
	// stop releases look's resources; called once no reading runs.
	stop func()
}

var errWatchClosed = errors.New("the commit watch is closed")

func newCommitWatch(look func() (int64, bool, error), stop func()) *commitWatch {
	w := &commitWatch{look: look, stop: stop}
	w.cond.L = &w.mu
	return w
}

// Epoch returns the number of changes seen, from a reading that began after the call.
func (w *commitWatch) Epoch() (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	need := w.started + 1 // the first reading to start after this call
	for w.done < need {
		if w.closed {
			return 0, errWatchClosed
		}
		if w.running {
			w.waiting++
			w.cond.Wait()
			w.waiting--
			continue
		}
		w.running = true
		w.started++
		n := w.started
		w.mu.Unlock()
		v, fresh, err := w.look()
		w.mu.Lock()
		w.running = false
		w.done = n
		switch {
		case err != nil:
			w.epoch++ // whatever the next reading says, it cannot be compared with the last
			w.err = err
		case fresh || v != w.last:
			w.epoch++
			w.last, w.err = v, nil
		default:
			w.err = nil
		}
		w.cond.Broadcast()
	}
	return w.epoch, w.err
}

// close waits for a running reading, refuses new ones and releases the connection.
func (w *commitWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for w.running {
		w.cond.Wait()
	}
	w.cond.Broadcast()
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
}

// dataVersion reads PRAGMA data_version on a connection held out of db's pool for this use.
// It is only called by the watch's running reading, one at a time. The statement is prepared
// once on the driver's connection and run inside conn.Raw, without database/sql's per-query
// machinery (locks, rows, conversions), which was a third of a reading's cost.
type dataVersion struct {
	ctx  context.Context
	db   *store.DB
	conn *sql.Conn
	stmt driver.StmtQueryContext // prepared on conn's driver connection; used only inside conn.Raw
	read func(any) error         // d.readRaw, bound once
	v    int64
	dest [1]driver.Value
}

func (d *dataVersion) look() (int64, bool, error) {
	fresh := false
	if d.conn == nil {
		if err := d.open(); err != nil {
			return 0, false, err
		}
		fresh = true
	}
	if err := d.conn.Raw(d.read); err != nil {
		d.close()
		return 0, false, err
	}
	return d.v, fresh, nil
}

func (d *dataVersion) open() error {
	conn, err := d.db.Conn(d.ctx)
	if err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("the SQLite driver cannot prepare statements with a context")
		}
		st, err := pc.PrepareContext(context.Background(), `PRAGMA data_version`)
		if err != nil {
			return err
		}
		if d.stmt, ok = st.(driver.StmtQueryContext); !ok {
			st.Close()
			return errors.New("the SQLite driver cannot query statements with a context")
		}
		return nil
	})
	if err != nil {
		conn.Close()
		return err
	}
	d.conn = conn
	if d.read == nil {
		d.read = d.readRaw
	}
	return nil
}

// readRaw runs the statement. Not with d.ctx: with a context that can be cancelled the driver
// starts a goroutine per query to watch it. The reading takes microseconds; close stops the
// watch.
func (d *dataVersion) readRaw(any) error {
	rows, err := d.stmt.QueryContext(context.Background(), nil)
	if err != nil {
		return err
	}
	if err := rows.Next(d.dest[:]); err != nil {
		rows.Close()
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	v, ok := d.dest[0].(int64)
	if !ok {
		return fmt.Errorf("PRAGMA data_version gave %T, want an integer", d.dest[0])
	}
	d.v = v
	return nil
}

func (d *dataVersion) close() {
	if d.conn != nil {
		_ = d.conn.Raw(func(any) error { return d.stmt.(driver.Stmt).Close() })
		d.conn.Close()
		d.conn, d.stmt = nil, nil
	}
}
