package cli

import (
	"fmt"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// parsePeriod turns --from/--to into a window. Each is a day (YYYY-MM-DD, UTC midnight) or an
// RFC 3339 instant; an empty one is an open end unless required. Errors are usage errors.
func parsePeriod(from, to string, required bool) (timeline.Window, error) {
	w := timeline.Always()
	if required && (from == "" || to == "") {
		return w, UsageError{fmt.Errorf("--from and --to are both required (YYYY-MM-DD or RFC 3339)")}
	}
	for _, b := range []struct {
		flag, value string
		dst         *int64
	}{{"--from", from, &w.From}, {"--to", to, &w.To}} {
		if b.value == "" {
			continue
		}
		v, err := timeline.ParseDateOrTime(b.value)
		if err != nil {
			return w, UsageError{fmt.Errorf("%s %q: %w; use YYYY-MM-DD or an RFC 3339 instant", b.flag, b.value, err)}
		}
		*b.dst = v
	}
	if w.From >= w.To {
		return w, UsageError{fmt.Errorf("--from %s is not before --to %s; swap them", from, to)}
	}
	return w, nil
}
