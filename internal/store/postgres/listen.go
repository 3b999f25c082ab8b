package postgres

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Listen subscribes a pooled connection to channel (LISTEN) and calls fn with the payload of
// every notification until ctx ends or the connection fails. ready is called once the
// subscription is in place: notifications sent after that are delivered.
func (dialect) Listen(ctx context.Context, db *sql.DB, channel string, ready func(), fn func(payload string)) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return err
		}
		// The connection goes back to the pool when this returns; it must not keep listening.
		defer func() { _, _ = pc.Exec(context.Background(), "UNLISTEN *") }()
		ready()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			fn(n.Payload)
		}
	})
}
