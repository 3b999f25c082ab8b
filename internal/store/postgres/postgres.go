// Package postgres is the production storage engine: PostgreSQL through pgx. The SQL stays
// within what PostgreSQL-compatible distributed databases accept (no sequences as keys;
// serialization failures are retried by store.DB.Tx), so a deployment that outgrows one server
// moves to one of those.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/partnerlink/partnerlink/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

type dialect struct{}

func (dialect) Name() string { return store.Postgres }

func (dialect) Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Redact removes the password from a DSN so it can be printed.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open connects to the DSN and checks the server answers. It does not migrate.
func Open(ctx context.Context, dsn string) (*store.DB, error) {
	display := Redact(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, store.NewError(store.ErrInvalid, fmt.Sprintf("%q is not a valid PostgreSQL DSN; use postgres://USER@HOST:PORT/DB?sslmode=disable", display), nil)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, store.NewError(store.ErrUnavailable, fmt.Sprintf("cannot reach PostgreSQL at %q (%s); check the server is running and the DSN is right", display, connReason(err)), nil)
	}
	return store.New(db, dialect{}, display), nil
}

func connReason(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "3D000":
			return "database does not exist"
		case "28P01", "28000":
			return "authentication failed"
		case "42501":
			return "permission denied"
		}
		return "server said " + pe.Code
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "no such host"):
		return "unknown host"
	case strings.Contains(s, "timeout"):
		return "timed out"
	}
	return "connection failed"
}

func (dialect) Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

func (dialect) Translate(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505" || pe.Code == "23P01":
			return store.NewError(store.ErrConflict, "conflicts with an existing record", err)
		case pe.Code == "40001" || pe.Code == "40P01":
			return store.NewError(store.ErrUnavailable, "the database is busy; try again", err)
		case strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") || strings.HasPrefix(pe.Code, "57"):
			return store.NewError(store.ErrUnavailable, "the database is unavailable", err)
		case pe.Code == "42501": // insufficient_privilege: the operator's grants, not the caller
			return store.NewError(store.ErrUnavailable, "the database denied permission ("+pe.Message+"); grant the server's database role the privileges it needs", err)
		case strings.HasPrefix(pe.Code, "22"): // data exception: a NUL or invalid UTF-8 in a value, a number out of range
			return store.NewError(store.ErrInvalid, "the database refused a value: "+pe.Message, err)
		}
		return store.NewError(store.ErrInternal, "internal storage error", err)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return store.NewError(store.ErrUnavailable, "the database is unavailable", err)
	}
	return err // not the driver's: an application error passes through
}

type loader struct{ tx pgx.Tx }

// Load takes a raw pgx connection from the pool so that Insert can use COPY.
func (dialect) Load(ctx context.Context, db *sql.DB, fn func(store.Loader) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(loader{tx}); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	})
}

func (l loader) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := l.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (l loader) Query(ctx context.Context, query string, args []any, fn func(scan func(dest ...any) error) error) error {
	rows, err := l.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Insert uses COPY. To skip conflicting rows it copies into a temporary table first and moves
// the rows over with INSERT ... ON CONFLICT DO NOTHING.
func (l loader) Insert(ctx context.Context, table string, columns []string, rows [][]any, skipConflicts bool) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if !skipConflicts {
		return l.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	}
	tmp := "load_" + table
	if _, err := l.tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+tmp+` (LIKE `+table+` INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
		return 0, err
	}
	// TRUNCATE, not DELETE: DELETE leaves dead rows that every later batch's INSERT ... SELECT
	// scans again (measured: 4.5 s against 5.4 s for 200,000 usage rows).
	if _, err := l.tx.Exec(ctx, `TRUNCATE `+tmp); err != nil {
		return 0, err
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{tmp}, columns, pgx.CopyFromRows(rows)); err != nil {
		return 0, err
	}
	cols := strings.Join(columns, ", ")
	tag, err := l.tx.Exec(ctx, `INSERT INTO `+table+` (`+cols+`) SELECT `+cols+` FROM `+tmp+` ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
