package rules

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Program names as they appear in incentive rows.
const (
	ProgramPEC = "PEC"
	ProgramPAL = "PAL"
)

//go:embed programs_default.json
var defaultPrograms []byte

// Programs is the incentive configuration: each program has versions with effective windows.
// The version that applies to a usage record is the one whose window contains the record's
// charge start (a record is never split between versions: its charge start decides).
type Programs struct {
	Version string
	Hash    string // sha256 of the file, recorded with each run
	PEC     []ProgramVersion
	PAL     []ProgramVersion
	// Flat are the programs (version 2) that pay a flat rate on the rows of one association
	// type, optionally of one provider: rows with duplicate_at_org = false only. None ships.
	Flat []FlatProgram
	// TagRules are the versions of the TAG rules (version 2); the shipped ones unless the file
	// gives its own.
	TagRules []TagRuleVersion
	fileText []byte
}

// FlatProgram is a program paying Rate of the amount of every row of Association (and of
// Provider, when set) with duplicate_at_org = false.
type FlatProgram struct {
	Name        string
	Association string
	Provider    string // a provider ID (usage.NormalizeProvider); "" = every provider
	Versions    []ProgramVersion
}

// ProgramVersion is one effective version of a program. Rates are decimal fractions held as
// nano-units (0.15 = 150000000).
type ProgramVersion struct {
	Version    string
	Window     timeline.Window
	Offers     map[string]bool
	Rate       money.Nanos // PEC
	RateSingle money.Nanos // PAL: exactly one organisation has PAL rows on the record
	RateMulti  money.Nanos // PAL: several organisations
}

type programsFile struct {
	Version  string         `json:"version"`
	TagRules []tagRulesJSON `json:"tag_rules"`
	Programs []struct {
		Name        string `json:"name"`
		Association string `json:"association"`
		Provider    string `json:"provider"`
		Versions    []struct {
			Version    string   `json:"version"`
			From       string   `json:"from"`
			To         string   `json:"to"`
			Offers     []string `json:"offers"`
			Rate       string   `json:"rate"`
			RateSingle string   `json:"rate_single"`
			RateMulti  string   `json:"rate_multi"`
		} `json:"versions"`
	} `json:"programs"`
}

// DefaultPrograms returns the shipped programs (PEC 15% on csp; PAL 6%/2% on ea, mca, payg).
func DefaultPrograms() *Programs {
	p, err := ParsePrograms(defaultPrograms, "programs_default.json")
	if err != nil {
		// The embedded file is tested; reaching this is a build defect.
		return &Programs{Version: "invalid-default"}
	}
	return p
}

// LoadPrograms reads a programs file.
func LoadPrograms(path string) (*Programs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading programs file: %w", err)
	}
	return ParsePrograms(b, path)
}

// ParsePrograms parses a programs file; name is used in errors.
func ParsePrograms(b []byte, name string) (*Programs, error) {
	var f programsFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: not a valid programs file: %v (see docs/attribution.md for the format)", name, err)
	}
	if f.Version == "" {
		return nil, fmt.Errorf("%s: $.version is empty; give the file a version name", name)
	}
	sum := sha256.Sum256(b)
	p := &Programs{Version: f.Version, Hash: hex.EncodeToString(sum[:]), fileText: b}
	rate := func(path, s string) (money.Nanos, error) {
		if s == "" {
			return 0, nil
		}
		n, err := money.Parse(s)
		if err != nil || n < 0 || n > money.Scale {
			return 0, fmt.Errorf("%s: %s = %q is not a rate between 0 and 1 (write e.g. \"0.15\")", name, path, s)
		}
		return n, nil
	}
	var err error
	if p.TagRules, err = parseTagRules(f.TagRules, name); err != nil {
		return nil, err
	}
	for i, pr := range f.Programs {
		flat := pr.Association != ""
		switch {
		case pr.Name == "":
			return nil, fmt.Errorf("%s: $.programs[%d].name is empty", name, i)
		case flat && (pr.Name == ProgramPEC || pr.Name == ProgramPAL):
			return nil, fmt.Errorf("%s: $.programs[%d]: %s is the shipped program; give a flat-rate program another name", name, i, pr.Name)
		case flat && !knownAssociation(pr.Association):
			return nil, fmt.Errorf("%s: $.programs[%d].association = %q; use one of %s", name, i, pr.Association, strings.Join(Associations, ", "))
		case !flat && pr.Name != ProgramPEC && pr.Name != ProgramPAL:
			return nil, fmt.Errorf("%s: $.programs[%d].name = %q; known programs are PEC and PAL, and a flat-rate program names its association (\"association\": \"TAG\")", name, i, pr.Name)
		case !flat && pr.Provider != "":
			return nil, fmt.Errorf("%s: $.programs[%d]: provider applies to flat-rate programs only", name, i)
		}
		var vs []ProgramVersion
		for j, v := range pr.Versions {
			at := fmt.Sprintf("$.programs[%d].versions[%d]", i, j)
			pv := ProgramVersion{Version: v.Version, Window: timeline.Always(), Offers: map[string]bool{}}
			if v.Version == "" {
				return nil, fmt.Errorf("%s: %s.version is empty", name, at)
			}
			if v.From != "" {
				t, err := timeline.ParseDateOrTime(v.From)
				if err != nil {
					return nil, fmt.Errorf("%s: %s.from = %q: want YYYY-MM-DD or RFC 3339", name, at, v.From)
				}
				pv.Window.From = t
			}
			if v.To != "" {
				t, err := timeline.ParseDateOrTime(v.To)
				if err != nil {
					return nil, fmt.Errorf("%s: %s.to = %q: want YYYY-MM-DD or RFC 3339", name, at, v.To)
				}
				pv.Window.To = t
			}
			if pv.Window.Empty() {
				return nil, fmt.Errorf("%s: %s: from %q is not before to %q", name, at, v.From, v.To)
			}
			for _, o := range v.Offers {
				pv.Offers[o] = true
			}
			if pv.Rate, err = rate(at+".rate", v.Rate); err != nil {
				return nil, err
			}
			if pv.RateSingle, err = rate(at+".rate_single", v.RateSingle); err != nil {
				return nil, err
			}
			if pv.RateMulti, err = rate(at+".rate_multi", v.RateMulti); err != nil {
				return nil, err
			}
			vs = append(vs, pv)
		}
		sort.Slice(vs, func(a, b int) bool { return vs[a].Window.From < vs[b].Window.From })
		for k := 1; k < len(vs); k++ {
			if vs[k].Window.From < vs[k-1].Window.To {
				return nil, fmt.Errorf("%s: $.programs[%d]: versions %q and %q overlap in time; close the first before the second starts", name, i, vs[k-1].Version, vs[k].Version)
			}
		}
		switch {
		case flat:
			fp := FlatProgram{Name: pr.Name, Association: pr.Association, Versions: vs}
			if strings.TrimSpace(pr.Provider) != "" {
				fp.Provider = normaliseProvider(pr.Provider)
			}
			p.Flat = append(p.Flat, fp)
		case pr.Name == ProgramPEC:
			p.PEC = vs
		default:
			p.PAL = vs
		}
	}
	return p, nil
}

// At returns the version effective at t, or nil.
func At(vs []ProgramVersion, t int64) *ProgramVersion {
	for i := range vs {
		if vs[i].Window.Contains(t) {
			return &vs[i]
		}
	}
	return nil
}
