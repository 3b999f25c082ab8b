package attribution

import (
	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/rules"
)

// The rules live in internal/rules (the readable statement of attribution.md, used by
// explain and the tests); the engine is an optimisation that must equal them. These names
// keep the engine's callers unchanged.

// Association types.
const (
	AssocCSP         = rules.AssocCSP
	AssocDPOR        = rules.AssocDPOR
	AssocCUA         = rules.AssocCUA
	AssocPAL         = rules.AssocPAL
	AssocTag         = rules.AssocTag
	AssocResale      = rules.AssocResale
	AssocMarketplace = rules.AssocMarketplace
)

// Program names as they appear in incentive rows.
const (
	ProgramPEC = rules.ProgramPEC
	ProgramPAL = rules.ProgramPAL
)

type (
	// Row is one attribution row (formats.md).
	Row = rules.Row
	// Incentive is one incentive row.
	Incentive = rules.Incentive
	// Programs is the incentive configuration (rules.Programs).
	Programs = rules.Programs
	// ProgramVersion is one effective version of a program.
	ProgramVersion = rules.ProgramVersion
	// EligibleFunc decides whether a role definition counts for recognition.
	EligibleFunc = rules.EligibleFunc
)

// DefaultPrograms returns the shipped programs.
func DefaultPrograms() *Programs { return rules.DefaultPrograms() }

// LoadPrograms reads a programs file.
func LoadPrograms(path string) (*Programs, error) { return rules.LoadPrograms(path) }

// ParsePrograms parses a programs file; name is used in errors.
func ParsePrograms(b []byte, name string) (*Programs, error) { return rules.ParsePrograms(b, name) }

// Eligible is rules.Eligible: whether a role counts for recognition, and which rule decided.
func Eligible(def access.RoleDefinition, overrides map[string]bool) (bool, string) {
	return rules.Eligible(def, overrides)
}

var eligibleRole EligibleFunc = rules.Eligible

func at(vs []ProgramVersion, t int64) *ProgramVersion { return rules.At(vs, t) }

const day = rules.Day

func floorDay(t int64) int64 { return rules.FloorDay(t) }

func pecExclusion(pricing, commitment, publisher, provider string) string {
	return rules.PECExclusion(pricing, commitment, publisher, provider)
}
