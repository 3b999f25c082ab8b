package cli

import (
	"context"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// webhookInterval is how often the server fans new events out to webhooks and sends due
// deliveries; retries follow the worker's exponential backoff, not this interval.
const webhookInterval = 2 * time.Second

// startWebhookWorker runs the webhook delivery worker in the background until the returned
// stop function is called. Its state is in webhook_deliveries, so a restart resumes it.
func startWebhookWorker(app *App, db *store.DB, policy webhook.Policy) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &webhook.Worker{DB: db, Policy: policy, Log: app.Log, Now: app.Now}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, webhookInterval)
	}()
	return func() {
		cancel()
		<-done
	}
}
