package attribution

import "strings"

// interner holds one copy of each string it is given. A usage batch's strings share one
// allocation with its whole dictionary, so a key that keeps one of them keeps that alive.
type interner map[string]string

func (in interner) get(s string) string {
	if c, ok := in[s]; ok {
		return c
	}
	c := strings.Clone(s)
	in[c] = c
	return c
}
