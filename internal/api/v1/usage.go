package v1

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// registerUsage: POST /v1/usage streams one usage file into the store.
// Role: operator.
func registerUsage(mux *api.Mux, d api.Deps) {
	mux.Handle("POST /v1/usage", Authed(d, (*auth.Identity).IsOperator, func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		q := r.URL.Query()
		opts := usage.ImportOptions{ReadOptions: usage.ReadOptions{Format: q.Get("format"), Measure: q.Get("measure")}, Now: d.Now}
		if err := opts.Validate(); err != nil {
			WriteProblem(w, http.StatusBadRequest, err.Error())
			return
		}
		name := q.Get("name")
		if name == "" {
			name = "upload"
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var imp *usage.Import
		var err error
		switch ct {
		case "text/csv", "application/gzip", "application/octet-stream", "":
			imp, err = usage.ImportReader(r.Context(), d.DB, r.Body, name, opts)
		case "application/x-ndjson", "application/jsonl", "application/json-seq":
			imp, err = usage.ImportNDJSON(r.Context(), d.DB, r.Body, name, opts)
		default:
			WriteProblem(w, http.StatusUnsupportedMediaType, "Content-Type "+ct+" is not accepted; send text/csv (FOCUS or Azure cost details, plain or gzip) or application/x-ndjson")
			return
		}
		var rej *usage.RejectedError
		var fe *usage.FileError
		switch {
		case errors.As(err, &rej):
			errs := make([]string, len(rej.Rows))
			for i, row := range rej.Rows {
				errs[i] = row.Error()
			}
			WriteProblem(w, http.StatusUnprocessableEntity, strings.SplitN(rej.Error(), "\n", 2)[0], errs...)
		case errors.As(err, &fe):
			WriteProblem(w, http.StatusUnprocessableEntity, fe.Error())
		case err != nil:
			WriteError(w, d, err)
		default:
			d.Log.Info("usage imported", "import", imp.ID, "by", id.ObjectID, "added", imp.RowsAdded)
			WriteJSON(w, http.StatusCreated, imp)
		}
	}))
}
