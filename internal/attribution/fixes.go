package attribution

// Fix says, for an explain reason code, what a partner or an operator does about it: the
// same sentence in the CLI's explain and on the dashboard. An unknown code has none ("").
func Fix(code string) string { return fixes[code] }

var fixes = map[string]string{
	ReasonUnknownID: "Check the ID against the partner directory (`partnerlink report operator` lists it); " +
		"an empty database knows no partner: import the estate first or pass --db.",
	ReasonOrganisationID: "Link a location ID (one of the organisation's locations named above), not the organisation ID: " +
		"recognition is per location.",
	ReasonNotConsumption: "Nothing to fix: purchases, taxes, credits and refunds are not consumption and earn no recognition.",
	ReasonUnknownSubscription: "Import the subscription's tenant into the estate (partnerlink import estate), " +
		"then attribute the period again.",
	ReasonInactiveLocation: "Reactivate the location in the partner directory for the period, or link an active location of the organisation.",
	ReasonNoLink: "Link an identity that works in this tenant to the location: `az managementpartner create --partner-id LOCATION` " +
		"signed in as that identity (or the ARM API PUT on Microsoft.ManagementPartner/partners).",
	ReasonLinkOutsidePeriod: "Create the link (or keep it) for the whole period; attribution starts when the link does and stops when it ends.",
	ReasonNoCoveringAssign: "Give the linked identity (or a group it is a member of) a role on the subscription, its management group, " +
		"a resource group or the resource.",
	ReasonRolesNotEligible: "Use a role that changes resources (Contributor, Owner or a role with a write action); " +
		"read-only roles do not count for recognition.",
	ReasonNeverActivated: "Activate the eligible (PIM) role while working on the resource: credit accrues only while it is active.",
	ReasonAssignOutside:  "Keep the role assignment for the whole period; credit accrues only while it is in force.",
	ReasonNoOverlap: "The link, the role and the location's active time must overlap; align their windows " +
		"(the steps above show each one's).",
	ReasonCSPPrecedence: "Nothing to fix: the organisation is this subscription's CSP reseller and is credited the full amount as CSP.",
	// Version 2.
	ReasonNotMicrosoft: "Nothing to fix: PAL, CSP, DPOR and CUA are Microsoft's programs; on other providers a partner is recognised by a tag, a resale or a marketplace sale.",
	ReasonTagNoIdentifier: "Register the tag's value as an identifier of the location (partnerlink identifiers add), " +
		"or correct the tag on the resource and activate it as a cost allocation tag.",
	ReasonTagOrganisation:  "Register or tag a location ID, not the organisation ID: recognition is per location.",
	ReasonTagOtherLocation: "Nothing to fix if the tag is meant for that location; otherwise tag the resource with this location's identifier (several partners may tag one resource with aws-apn-id-<account>).",
	ReasonNoPartnerTag: "Tag the resource with a partner tag (aws-apn-id, aws-apn-id-<account>, goog-partner-solution or partnerlink-partner-id) " +
		"and make sure the tag reaches the billing data (activate it as a cost allocation tag).",
	ReasonUnknownAccount:     "If the location resells this account, declare the account and its resale window in the estate file (accounts) or through /v1.",
	ReasonNotResold:          "If the location resold the account in the period, add or correct its resale window on the account.",
	ReasonSellerNotPublisher: "If the location sells this listing, register the seller's name as its publisher identifier.",
	ReasonNoResourceUsage: "Import the usage that holds the resource (partnerlink import usage), widen the period, " +
		"or check the ID as the billing data writes it (FOCUS ResourceId).",
}
