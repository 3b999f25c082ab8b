package directory

// SQL expressions for other owners' queries that show a partner's name or filter by
// organisation next to their own rows, on paths where a second query would cost a round trip
// (the link API). id is an SQL expression giving a location ID (a column or a $N parameter).
// They keep this package's tables named only here.

// LocationNameSQL is the name of location id, or the empty string when there is none.
func LocationNameSQL(id string) string {
	return `COALESCE((SELECT name FROM partner_locations WHERE id = ` + id + `), '')`
}

// OrgNameSQL is the name of the organisation of location id, or the empty string when there is none.
func OrgNameSQL(id string) string {
	return `COALESCE((SELECT o.name FROM partner_locations l JOIN partner_orgs o ON o.id = l.org_id WHERE l.id = ` + id + `), '')`
}

// LocationsOfOrgSQL is the set of location IDs of organisation org, for IN (...).
func LocationsOfOrgSQL(org string) string {
	return `SELECT id FROM partner_locations WHERE org_id = ` + org
}
