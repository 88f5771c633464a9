// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"
)

//go:embed schemas/*.yml
var builtinFS embed.FS

// Registry holds schemas by log type name. Fill it before use; lookups are
// then safe from any number of goroutines.
type Registry struct {
	byName map[string]*Schema
}

// NewRegistry returns a registry holding the six built-in schemas: the four
// Panther manages (Duo.Authentication, Duo.Administrator, Duo.Telephony and
// Duo.OfflineEnrollment) and duostream's own Duo.Activity and
// Duo.TrustMonitor, written in the same format.
func NewRegistry() (*Registry, error) {
	r := &Registry{byName: map[string]*Schema{}}
	entries, err := builtinFS.ReadDir("schemas")
	if err != nil {
		return nil, fmt.Errorf("read built-in schemas: %w", err)
	}
	for _, e := range entries {
		src, err := builtinFS.ReadFile(path.Join("schemas", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read built-in schema %s: %w", e.Name(), err)
		}
		s, err := Parse(src)
		if err != nil {
			return nil, fmt.Errorf("built-in schema %s: %w", e.Name(), err)
		}
		r.Add(s)
	}
	return r, nil
}

// Add puts s in the registry, replacing any schema of the same name.
func (r *Registry) Add(s *Schema) {
	r.byName[s.Name] = s
}

// Lookup returns the schema named name, or nil.
func (r *Registry) Lookup(name string) *Schema {
	return r.byName[name]
}

// Names returns the registered log type names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// UnknownLogTypeError returns the error for an event whose log type names
// no schema in r.
func (r *Registry) UnknownLogTypeError(name string) *FieldError {
	if name == "" {
		return &FieldError{LogType: "(no log type)", Problem: "the event has no log type: set log_type, or the duo_log_type metadata"}
	}
	return &FieldError{LogType: name, Problem: fmt.Sprintf("unknown log type: loaded schemas are %s", strings.Join(r.Names(), ", "))}
}
