package estatefile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// bothPaths runs fn on a fresh database of each engine with the bulk path of a first import
// and with the general path.
func bothPaths(t *testing.T, fn func(t *testing.T, db *store.DB, opts estatefile.Options)) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Run("bulk", func(t *testing.T) { fn(t, db, estatefile.Options{}) })
		general := storetest.SQLite(t)
		if db.Engine() == store.Postgres {
			general = storetest.Postgres(t)
		}
		t.Run("general", func(t *testing.T) { fn(t, general, estatefile.WithoutBulk(estatefile.Options{})) })
	})
}

func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("imported; want an error with %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// TestOnePartnerIDNamespace: an ID names an organisation or a location, never both, in the
// file and against what is stored (issue 25, item 3).
func TestOnePartnerIDNamespace(t *testing.T) {
	const later = `{"partners": [
  {"id": "4100000", "name": "Contoso Cloud", "locations": [{"id": "4100001", "name": "Contoso Germany"}]},
  {"id": "4200000", "name": "Fourth Coffee", "locations": [{"id": "4200001", "name": "Fourth Coffee UK"}, {"id": "4300000", "name": "Fourth Coffee IE"}]},
  {"id": "4300000", "name": "Litware", "locations": [{"id": "4100001", "name": "Litware DE"}]}]}`
	bothPaths(t, func(t *testing.T, db *store.DB, opts estatefile.Options) {
		_, err := importFile(t, db, later, opts)
		wantErr(t, err, `partners[1].locations[1].id: location ID "4300000" (Fourth Coffee IE) is also the ID of organisation 4300000 (Litware) at partners[2]; an ID names an organisation or a location, never both`,
			`partners[2].id: organisation ID "4300000" (Litware) is also the ID of location 4300000 (Fourth Coffee IE) of organisation 4200000 (Fourth Coffee) at partners[1].locations[1]`,
			`partners[2].locations[0].id: location "4100001" already belongs to organisation "4100000"`)
	})
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		withBase(t, db)
		_, err := importFile(t, db, `{"partners": [{"id": "4100001", "name": "Litware"}]}`, estatefile.Options{})
		wantErr(t, err, `partners[0].id: organisation ID "4100001" (Litware) is already the ID of location 4100001 (Contoso Germany) of organisation 4100000 (Contoso Cloud); an ID names`)
		_, err = importFile(t, db, `{"partners": [{"id": "4300000", "name": "Litware", "locations": [{"id": "4100000", "name": "Litware DE"}]}]}`, estatefile.Options{})
		wantErr(t, err, `partners[0].locations[0].id: location ID "4100000" (Litware DE) is already the ID of organisation 4100000 (Contoso Cloud); an ID names`)
		// The estate itself imports again unchanged.
		if rep, err := importFile(t, db, snapshot1(t), estatefile.Options{}); err != nil || len(rep.Kinds) != 0 {
			t.Fatalf("re-import: %+v, %v", rep, err)
		}
	})
}

// TestTimesInRange: a time int64 nanoseconds cannot hold is refused, named with its path and
// the range (issue 25, item 4); the range's ends are accepted.
func TestTimesInRange(t *testing.T) {
	const link = `"partnerId": "4100001", "from": "2026-01-01T00:00:00Z", "to": null}`
	const deploy = `"at": "2026-02-01T10:00:00Z"`
	s1 := snapshot1(t)
	if !strings.Contains(s1, link) || !strings.Contains(s1, deploy) {
		t.Fatal("fixture changed")
	}
	bothPaths(t, func(t *testing.T, db *store.DB, opts estatefile.Options) {
		body := strings.Replace(replaceLast(s1, link, `"partnerId": "4100001", "from": "0001-01-01T00:00:00Z", "to": "2262-04-11T00:00:01Z"}`),
			deploy, `"at": "9999-12-31T23:59:59Z"`, 1)
		_, err := importFile(t, db, body, opts)
		wantErr(t, err, "links[0].from: 0001-01-01T00:00:00Z is outside the range of times partnerlink stores, 1678-01-01T00:00:00Z to 2262-04-11T00:00:00Z",
			"links[0].to: 2262-04-11T00:00:01Z is outside the range", "deployments[0].at: 9999-12-31T23:59:59Z is outside the range")
		body = replaceLast(s1, link, `"partnerId": "4100001", "from": "1678-01-01T00:00:00Z", "to": "2262-04-11T00:00:00Z"}`)
		if _, err := importFile(t, db, body, opts); err != nil {
			t.Fatalf("the range's ends: %v", err)
		}
		if got := export(t, db); !strings.Contains(got, `"from": "1678-01-01T00:00:00Z"`) || !strings.Contains(got, `"to": "2262-04-11T00:00:00Z"`) {
			t.Fatalf("the range's ends are not stored as given:\n%s", got)
		}
	})
}

// TestOneJSONDocument: an estate file is one JSON object and nothing after it.
func TestOneJSONDocument(t *testing.T) {
	s1 := snapshot1(t)
	bothPaths(t, func(t *testing.T, db *store.DB, opts estatefile.Options) {
		for _, tc := range []struct{ body, want string }{
			{s1 + "\n garbage", "estate.json:52:2: more data after the end of the JSON document"},
			{s1 + s1, "more data after the end of the JSON document"},
			{`{"tenants": []} {"tenants": []}`, "estate.json:1:17: more data after the end of the JSON document"},
			{`null`, "an estate file is a JSON object with partners, tenants, ... lists, not null"},
			{" [] ", "not a list"},
		} {
			_, err := importFile(t, db, tc.body, opts)
			wantErr(t, err, tc.want)
		}
		if rep, err := importFile(t, db, " {} \n", opts); err != nil || len(rep.Kinds) != 0 {
			t.Fatalf("an empty object: %+v, %v", rep, err)
		}
	})
}

// TestVersion2KeysChecked: identifiers and accounts (formats version 2) are read and checked,
// strictly too, and stored through their owners (directory, account).
func TestVersion2KeysChecked(t *testing.T) {
	const good = `,
  "identifiers": [
    {"partnerId": "4100001", "scheme": "aws-product-code", "value": "5ugbbrmu7ud3u5hsipfzug61p", "from": "2024-01-01T00:00:00Z", "to": null},
    {"partnerId": "4100002", "scheme": "publisher", "value": "Contoso Ltd", "from": null, "to": null}],
  "accounts": [
    {"provider": "Amazon Web Services, Inc.", "id": "123456789012", "kind": "sub", "name": "prod", "billingAccountId": "987654321098",
     "resale": [{"partnerId": "4100001", "from": "2024-09-01T00:00:00Z", "to": null}]}]
}`
	s1 := strings.TrimSpace(snapshot1(t))
	body := strings.TrimSuffix(s1, "}") + good
	bothPaths(t, func(t *testing.T, db *store.DB, opts estatefile.Options) {
		opts.Strict = true
		rep, err := importFile(t, db, body, opts)
		if err != nil || rep.Kinds["partner identifiers"] == nil || rep.Kinds["partner identifiers"].Created != 2 ||
			rep.Kinds["accounts"] == nil || rep.Kinds["accounts"].Created != 1 || rep.Kinds["account resale windows"].Created != 1 {
			t.Fatalf("%+v, %v", rep, err)
		}
		ids, err := directory.Store{DB: db}.Identifiers(context.Background(), directory.IdentifierFilter{})
		if err != nil || len(ids) != 2 || ids[0].Scheme != "aws-product-code" || ids[0].LocationID != "4100001" || ids[1].Value != "Contoso Ltd" {
			t.Fatalf("identifiers stored: %+v, %v", ids, err)
		}
		acc, err := account.Store{DB: db}.Get(context.Background(), "aws", "123456789012")
		if err != nil || acc.Kind != "sub" || acc.BillingAccountID != "987654321098" || len(acc.Resale) != 1 || acc.Resale[0].LocationID != "4100001" {
			t.Fatalf("account stored: %+v, %v", acc, err)
		}
		// Importing the same file again changes nothing.
		if rep, err := importFile(t, db, body, opts); err != nil || rep.Kinds["partner identifiers"] != nil || rep.Kinds["accounts"] != nil {
			t.Fatalf("again: %+v, %v", rep, err)
		}
		bad := strings.TrimSuffix(s1, "}") + `,
  "identifiers": [
    {"partnerId": "4100000", "scheme": "aws product code", "value": " ", "from": "2024-01-01T00:00:00Z", "to": null},
    {"partnerId": "4100001", "scheme": "publisher", "value": "Contoso", "from": "2024-01-01T00:00:00Z", "to": null},
    {"partnerId": "4100002", "scheme": "publisher", "value": " contoso", "from": "2025-01-01T00:00:00Z", "to": "9999-01-01T00:00:00Z"},
    {"partnerId": "4100002", "scheme": "publisher", "value": "CONTOSO", "from": "2025-01-01T00:00:00Z", "to": null}],
  "accounts": [
    {"provider": "Microsoft Azure", "id": "x", "kind": "sub"},
    {"provider": "aws", "id": "1", "kind": "member", "resale": [{"partnerId": "4100009", "from": null, "to": null},
      {"partnerId": "4100001", "from": "2024-01-01T00:00:00Z", "to": null}, {"partnerId": "4100001", "from": "2025-01-01T00:00:00Z", "to": null}]},
    {"provider": "AWS", "id": "1", "kind": "billing"}]
}`
		_, err = importFile(t, db, bad, opts)
		wantErr(t, err, `identifiers[0].partnerId: identifier partner "4100000" is a partner organisation ID; use one of its location IDs (4100001, 4100002)`,
			`identifiers[0].scheme: scheme "aws product code" must be a name without spaces`, "identifiers[0].value: the identifier's value is empty",
			"identifiers[2].to: 9999-01-01T00:00:00Z is outside the range",
			"identifiers[3]: its window [2025-01-01T00:00:00Z, ∞) overlaps identifiers[1]'s [2024-01-01T00:00:00Z, ∞) for the same identifier (scheme, value)",
			`accounts[0].provider: provider "Microsoft Azure" is Azure`, `accounts[1].kind: kind "member" is not sub`,
			`accounts[1].resale[0].partnerId: reseller "4100009" is not a known partner location`,
			"accounts[1].resale[2]: its window [2025-01-01T00:00:00Z, ∞) overlaps accounts[1].resale[1]'s",
			"accounts[2].id: account 1 of aws is also accounts[1]")
	})
}

// replaceLast replaces the last occurrence of old (the links come after the DPOR windows).
func replaceLast(s, old, new string) string {
	i := strings.LastIndex(s, old)
	return s[:i] + new + s[i+len(old):]
}
