package groupcommit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresPipelineTx runs fn on one pooled connection of a PostgreSQL database (opened by
// internal/store/postgres, through pgx), sending each batch as one pgx batch (one round trip).
// BEGIN goes with the first batch and COMMIT with the one given to Commit, so a transaction of
// two batches costs two round trips.
func postgresPipelineTx(ctx context.Context, db *sql.DB, fn func(Pipe) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		p := &pgPipe{conn: dc.(*stdlib.Conn).Conn()}
		err := fn(p)
		if err == nil && !p.done {
			err = p.Commit(ctx, nil)
		}
		if err != nil && p.open {
			// The transaction failed (or fn refused): end it so the connection goes back to
			// the pool clean. A failed ROLLBACK means a broken connection: ErrBadConn makes
			// database/sql drop it.
			if _, rerr := p.conn.Exec(context.Background(), "ROLLBACK"); rerr != nil {
				return errors.Join(err, rerr, driver.ErrBadConn)
			}
		}
		return err
	})
}

type pgPipe struct {
	conn       *pgx.Conn
	open, done bool // a transaction is open; it has been committed
}

func (p *pgPipe) Send(ctx context.Context, b *Batch) error { return p.send(ctx, b, false) }

func (p *pgPipe) Commit(ctx context.Context, b *Batch) error { return p.send(ctx, b, true) }

func (p *pgPipe) send(ctx context.Context, b *Batch, commit bool) error {
	if p.done {
		return errors.New("pipeline: the transaction is already committed")
	}
	var pb pgx.Batch
	begin := !p.open
	if begin {
		pb.Queue("BEGIN")
	}
	if b != nil {
		for _, s := range b.Stmts {
			pb.Queue(s.Query, s.Args...)
		}
	}
	if commit {
		pb.Queue("COMMIT")
	}
	br := p.conn.SendBatch(ctx, &pb)
	err := p.read(br, b, begin, commit)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if commit && err == nil {
		p.open, p.done = false, true
	}
	return err
}

func (p *pgPipe) read(br pgx.BatchResults, b *Batch, begin, commit bool) error {
	if begin {
		if _, err := br.Exec(); err != nil {
			return err
		}
		p.open = true
	}
	if b != nil {
		for _, s := range b.Stmts {
			if s.Scan == nil {
				if _, err := br.Exec(); err != nil {
					return err
				}
				continue
			}
			if err := s.Scan(pgRow{br.QueryRow()}); err != nil {
				return err
			}
		}
	}
	if commit {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		// COMMIT of a transaction that failed along the way answers ROLLBACK, not an error.
		if tag.String() != "COMMIT" {
			p.open = false
			return errors.New("pipeline: the transaction was rolled back")
		}
	}
	return nil
}

// row reports "no rows" as database/sql does, so callers test one error.
type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}
