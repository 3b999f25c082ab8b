package attribution

import (
	"reflect"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// TestVersion2GoldenScenario is the hand-written scenario of issue 21: tags with user
// prefixes, a suffixed and a plain key naming two partners, an identifier that moves between
// locations mid-month, an inactive location, a revenue attribution ID, an unknown product
// code, resale on a sub-account and on a billing account overlapping, a marketplace seller.
// The expected rows are written by hand; the engine and the rules must both give them.
func TestVersion2GoldenScenario(t *testing.T) {
	s, recs := goldenV2(t)
	march := goldenMarch
	row := func(key, loc, org, assoc, sub, coverage, amount string, dup bool, r *usage.Record) Row {
		cov, err := money.Parse(coverage)
		if err != nil {
			t.Fatal(err)
		}
		am, _ := money.Parse(amount)
		return Row{RecordKey: key, LocationID: loc, OrgID: org, Association: assoc, Start: r.Start, End: r.End, SubscriptionID: sub,
			Service: "svc", Currency: "USD", Cost: r.Cost, Coverage: int64(cov), Amount: am, DuplicateAtOrg: dup, Provider: usage.NormalizeProvider(r.Provider)}
	}
	r1, r2, r3, r5, r7 := recs[0], recs[1], recs[2], recs[3], recs[4]
	want := []Row{
		row("r1", "4100001", "4100000", "RESALE", "111111111111", "1", "48", false, r1),
		row("r1", "4100001", "4100000", "TAG", "111111111111", "1", "48", false, r1),
		row("r1", "4100003", "4100000", "RESALE", "111111111111", "1", "48", true, r1),
		row("r1", "4200001", "4200000", "RESALE", "111111111111", "1", "48", false, r1),
		row("r1", "4200001", "4200000", "TAG", "111111111111", "1", "48", false, r1),
		row("r2", "4200001", "4200000", "TAG", "222222222222", "1", "10", false, r2),
		row("r3", "4200001", "4200000", "MARKETPLACE", "333333333333", "1", "24", false, r3),
		row("r5", "4100001", "4100000", "RESALE", "111111111111", "0.5", "12", false, r5),
		row("r5", "4100003", "4100000", "RESALE", "111111111111", "1", "24", true, r5),
		row("r7", "4100002", "4100000", "TAG", "proj-9", "0.5", "5", false, r7),
	}
	progs := DefaultPrograms()
	rows, incs, st := computeAll(t, s, progs, timeline.Window{From: march(1, 0), To: march(31, 0)}, recs)
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("engine rows:\n%+v\nwant:\n%+v", rows, want)
	}
	if len(incs) != 0 {
		t.Errorf("no program pays on version 2 types by default: %+v", incs)
	}
	var refRows []Row
	x := &rules.Reference{Snapshot: s, Programs: progs}
	for _, r := range recs {
		rs, _ := x.Record(r)
		refRows = append(refRows, rs...)
	}
	sortRows(refRows)
	if !reflect.DeepEqual(refRows, want) {
		t.Errorf("rules rows:\n%+v\nwant:\n%+v", refRows, want)
	}
	wantWarn := []TagWarning{
		{Tag: "aws-apn-id-123456789012", Value: "pc:unknown", Reason: "matches no registered identifier (aws-product-code)", Records: 1, Cost: map[string]string{"USD": "10"}},
		{Tag: "partnerlink-partner-id", Value: "4100000", Reason: "names an organisation, not a location (its locations: 4100001, 4100002, 4100003)", Records: 1, Cost: map[string]string{"USD": "5"}},
	}
	if !reflect.DeepEqual(st.TagWarnings, wantWarn) {
		t.Errorf("warnings %+v, want %+v", st.TagWarnings, wantWarn)
	}
}

func goldenMarch(day, hour int) int64 {
	return time.Date(2026, 3, day, hour, 0, 0, 0, time.UTC).UnixNano()
}

// goldenV2 is the scenario of TestVersion2GoldenScenario: its snapshot and records.
func goldenV2(t *testing.T) (*facts.Snapshot, []*usage.Record) {
	march := goldenMarch
	always := timeline.Always()
	s := &facts.Snapshot{
		Organisations: []directory.Organisation{
			{ID: "4100000", Locations: []directory.Location{
				{ID: "4100001", OrgID: "4100000", Active: []timeline.Window{always}},
				{ID: "4100002", OrgID: "4100000", Active: []timeline.Window{{From: timeline.Min, To: march(10, 0)}}}, // inactive from 10 March
				{ID: "4100003", OrgID: "4100000", Active: []timeline.Window{always}}}},
			{ID: "4200000", Locations: []directory.Location{{ID: "4200001", OrgID: "4200000", Active: []timeline.Window{always}}}},
		},
		Identifiers: []directory.Identifier{
			// pc:prodA names 4100001 until 15 March noon, then 4200001.
			{Scheme: "aws-product-code", Value: "prodA", LocationID: "4100001", Window: timeline.Window{From: timeline.Min, To: march(15, 12)}},
			{Scheme: "aws-product-code", Value: "PRODA", LocationID: "4200001", Window: timeline.Window{From: march(15, 12), To: timeline.Max}},
			{Scheme: "aws-revenue-attribution", Value: "ra-abcdefghij123", LocationID: "4200001", Window: always},
			{Scheme: "gcp-solution", Value: "isol_x", LocationID: "4100002", Window: always},
			{Scheme: "publisher", Value: "Red Hat Inc.", LocationID: "4200001", Window: always},
		},
		Accounts: []account.Account{
			{Provider: "aws", ID: "111111111111", Kind: account.KindSub, Resale: []account.Resale{
				{LocationID: "4100001", Window: timeline.Window{From: march(1, 0), To: march(16, 0)}},
				{LocationID: "4100003", Window: timeline.Window{From: march(1, 0), To: timeline.Max}}}},
			{Provider: "aws", ID: "999999999999", Kind: account.KindBilling, Resale: []account.Resale{
				{LocationID: "4100001", Window: timeline.Window{From: march(15, 0), To: timeline.Max}}, // overlaps the sub-account's
				{LocationID: "4200001", Window: timeline.Window{From: march(1, 0), To: timeline.Max}}}},
		},
	}
	rec := func(key, provider, sub, bill, publisher, tags string, from, to int64, cost string) *usage.Record {
		c, err := money.Parse(cost)
		if err != nil {
			t.Fatal(err)
		}
		return &usage.Record{Key: key, Provider: provider, SubscriptionID: sub, BillingAccountID: bill, Publisher: publisher, Tags: tags,
			Start: from, End: to, Cost: c, Currency: "USD", Service: "svc", ChargeCategory: usage.CategoryUsage}
	}
	recs := []*usage.Record{
		// User-prefixed plain key (pc:prodA: 4100001 at the record's start) and suffixed key
		// (a revenue attribution ID: 4200001); resale on the sub-account (4100001 until the
		// 16th, 4100003) and the billing account (4100001 from the 15th, 4200001).
		rec("r1", "Amazon Web Services, Inc.", "111111111111", "999999999999", "Amazon Web Services EMEA SARL",
			`{"resourceTags/user:aws-apn-id":"pc:prodA","user:aws-apn-id-123456789012":"ra-abcdefghij123"}`, march(15, 0), march(17, 0), "48"),
		// After the move pc:prodA names 4200001; an unknown product code warns.
		rec("r2", "AWS", "222222222222", "", "", `{"aws-apn-id":"pc:prodA","aws-apn-id-123456789012":"pc:unknown"}`, march(16, 0), march(16, 1), "10"),
		// A marketplace seller.
		rec("r3", "AWS", "333333333333", "", " red hat inc. ", "", march(2, 0), march(3, 0), "24"),
		// Half the period inside the sub-account's resale.
		rec("r5", "AWS", "111111111111", "", "", "", march(15, 12), march(16, 12), "24"),
		// A Google solution of a location that becomes inactive half-way.
		rec("r7", "Google Cloud", "proj-9", "", "", `{"goog-partner-solution":"isol_x"}`, march(9, 12), march(10, 12), "10"),
		// An organisation ID in the operator's own tag.
		rec("r8", "AWS", "222222222222", "", "", `{"partnerlink-partner-id":"4100000"}`, march(5, 0), march(5, 1), "5"),
	}
	return s, recs
}
