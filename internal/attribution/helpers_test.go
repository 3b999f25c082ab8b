package attribution

import "github.com/partnerlink/partnerlink/internal/money"

func mustMoney(n int64) money.Nanos { return money.Nanos(n) }
