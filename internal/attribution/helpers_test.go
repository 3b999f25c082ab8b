package attribution

import (
	"time"

	"github.com/partnerlink/partnerlink/internal/money"
)

func mustTime(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustMoney(n int64) money.Nanos { return money.Nanos(n) }
