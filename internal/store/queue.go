package store

// Queue runs a load's statements in order on one goroutine, so that the goroutines that
// prepare the data (parsing, encoding, computing) never wait for the database and never share
// the Loader, which is one connection. After a task fails, later ones are not run and report
// that failure.
type Queue struct {
	tasks chan queueTask
	done  chan struct{}
	err   error // read only after done is closed
}

type queueTask struct {
	fn    func() error
	reply chan error // nil: nobody waits
}

// NewQueue starts a queue. Stop it.
func NewQueue() *Queue {
	q := &Queue{tasks: make(chan queueTask, 1), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for t := range q.tasks {
			err := q.err
			if err == nil {
				err = t.fn()
				q.err = err
			}
			if t.reply != nil {
				t.reply <- err
			}
		}
	}()
	return q
}

// Go runs fn after the tasks before it, without waiting.
func (q *Queue) Go(fn func() error) { q.tasks <- queueTask{fn: fn} }

// Wait runs fn after the tasks before it and returns its error (or an earlier task's).
func (q *Queue) Wait(fn func() error) error {
	reply := make(chan error, 1)
	q.tasks <- queueTask{fn: fn, reply: reply}
	return <-reply
}

// Stop waits for the queued tasks and returns err, or else the first task's error.
func (q *Queue) Stop(err error) error {
	close(q.tasks)
	<-q.done
	if err != nil {
		return err
	}
	return q.err
}
