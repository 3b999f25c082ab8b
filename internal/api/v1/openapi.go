package v1

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
)

// Each area of the native API describes its own paths in an embedded fragment
// openapi/<area>.json of the form {"paths": {...}, "components": {"schemas": {...}}}; the served
// document merges them, so areas never edit one shared file.
//
//go:embed openapi/*.json
var openapiFragments embed.FS

// OpenAPI returns the merged OpenAPI 3.1 document. A path or schema defined by two fragments is
// an error naming both files (areas must not overwrite each other silently).
func OpenAPI() ([]byte, error) {
	names, err := fs.Glob(openapiFragments, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	paths := map[string]json.RawMessage{}
	schemas := map[string]json.RawMessage{}
	pathFrom, schemaFrom := map[string]string{}, map[string]string{}
	for _, name := range names {
		raw, err := openapiFragments.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var frag struct {
			Paths      map[string]json.RawMessage `json:"paths"`
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &frag); err != nil {
			return nil, fmt.Errorf("OpenAPI fragment %s: %w; fix the JSON in internal/api/v1/%s", name, err, name)
		}
		for p, v := range frag.Paths {
			if prev, dup := pathFrom[p]; dup {
				return nil, fmt.Errorf("OpenAPI path %s is defined in both %s and %s; keep it in one fragment", p, prev, name)
			}
			paths[p], pathFrom[p] = v, name
		}
		for s, v := range frag.Components.Schemas {
			if prev, dup := schemaFrom[s]; dup {
				return nil, fmt.Errorf("OpenAPI schema %s is defined in both %s and %s; rename one", s, prev, name)
			}
			schemas[s], schemaFrom[s] = v, name
		}
	}
	if _, dup := schemaFrom["Problem"]; dup {
		return nil, fmt.Errorf("OpenAPI schema Problem is defined in %s but is built in (openapi.go); remove it from the fragment", schemaFrom["Problem"])
	}
	schemas["Problem"] = json.RawMessage(`{"type":"object","description":"RFC 9457 problem details","properties":{"type":{"type":"string"},"title":{"type":"string"},"status":{"type":"integer"},"detail":{"type":"string"},"errors":{"type":"array","items":{"type":"string"}}}}`)
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "partnerlink native API",
			"version":     "1",
			"description": "Partner attribution: directory, links, events, webhooks, estate, usage, attribution and reports. Errors are RFC 9457 problem+json. Every operation needs a bearer token; its description names the role.",
		},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas":   schemas,
			"responses": problemResponses(),
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// serveOpenAPI answers GET /v1/openapi.json. It needs no token: the document describes the API,
// holds no data, and clients need it before they have credentials.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	doc, err := OpenAPI()
	if err != nil {
		WriteProblem(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}

// problemResponses are the shared error responses fragments refer to as
// #/components/responses/<Name>.
func problemResponses() map[string]any {
	out := map[string]any{}
	for name, desc := range map[string]string{
		"BadRequest":   "the request is invalid; detail says what to fix",
		"Unauthorized": "no token, or the token is invalid or expired",
		"Forbidden":    "the token's identity and roles do not allow this",
		"NotFound":     "no such resource",
		"Conflict":     "the request conflicts with the current state",
		"Unavailable":  "the database is busy or unavailable; retry after the Retry-After header's seconds",
	} {
		out[name] = map[string]any{"description": desc, "content": map[string]any{
			"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	}
	return out
}
