// Package architecture holds no code: its test checks rules that span the module, such as
// "every table has one owning package and nobody else writes SQL against it"
// (docs/architecture.md, "Who owns which table").
package architecture
