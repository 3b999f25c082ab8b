package estatefile

// WithoutBulk returns opts with the bulk path of a first import turned off, so tests can
// compare it with the general path.
func WithoutBulk(opts Options) Options {
	opts.noBulk = true
	return opts
}
