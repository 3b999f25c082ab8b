package v1

import (
	"errors"
	"fmt"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

func parseWindow(w WindowJSON) (timeline.Window, error) {
	win := timeline.Always()
	var err error
	if w.From != nil && *w.From != "" {
		if win.From, err = timeline.ParseDateOrTime(*w.From); err != nil {
			return win, fmt.Errorf("from %q: %w; use YYYY-MM-DD or RFC 3339", *w.From, err)
		}
	}
	if w.To != nil && *w.To != "" {
		if win.To, err = timeline.ParseDateOrTime(*w.To); err != nil {
			return win, fmt.Errorf("to %q: %w; use YYYY-MM-DD or RFC 3339", *w.To, err)
		}
	}
	if win.Empty() {
		return win, errors.New("from is not before to")
	}
	return win, nil
}
