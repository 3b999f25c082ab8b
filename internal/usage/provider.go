package usage

import "strings"

// Provider IDs of the providers partnerlink knows by name; any other provider's ID is its
// trimmed, lower-cased name.
const (
	ProviderMicrosoft = "microsoft"
	ProviderAWS       = "aws"
	ProviderGoogle    = "google"
	ProviderOracle    = "oracle"
)

// providerNames are the names each known provider goes by, lower case. A name that is one of
// these, or one of these followed by a space or a comma and anything else (a legal entity or a
// region: "Amazon Web Services EMEA SARL", "Amazon Web Services, Inc.", "Google LLC",
// "Microsoft Corporation"), is that provider.
var providerNames = []struct{ name, id string }{
	{"microsoft azure", ProviderMicrosoft},
	{"microsoft", ProviderMicrosoft},
	{"azure", ProviderMicrosoft},
	{"amazon web services", ProviderAWS},
	{"aws", ProviderAWS},
	{"google cloud", ProviderGoogle},
	{"google", ProviderGoogle},
	{"gcp", ProviderGoogle},
	{"oracle cloud infrastructure", ProviderOracle},
	{"oracle", ProviderOracle},
	{"oci", ProviderOracle},
}

// NormalizeProvider is the provider ID of a provider name (docs/usage.md "Providers"):
// microsoft, aws, google or oracle for their names and legal entities, otherwise the trimmed,
// lower-cased name. An empty name is microsoft: files without a provider column are Azure's.
func NormalizeProvider(name string) string {
	name = strings.TrimSpace(name)
	switch name {
	case "", "Microsoft", ProviderMicrosoft:
		return ProviderMicrosoft // the usual spellings, without lower-casing
	case "AWS", ProviderAWS:
		return ProviderAWS
	}
	low := strings.ToLower(name)
	for _, p := range providerNames {
		if rest, ok := strings.CutPrefix(low, p.name); ok && (rest == "" || rest[0] == ' ' || rest[0] == ',') {
			return p.id
		}
	}
	return low
}
