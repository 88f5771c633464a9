// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package endpoint adds endpoints to the HTTP server of a Benthos process,
// which Benthos' public plugin API offers no way to do.
package endpoint

import (
	"net/http"
	"reflect"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Registrar is the part of the Benthos manager behind a Resources that
// registers endpoints on its HTTP server (in streams mode, under
// /<stream id>, as the manager of a stream does).
type Registrar interface {
	RegisterEndpoint(path, desc string, h http.HandlerFunc)
}

// RegistrarOf returns the Registrar behind res.
//
// Benthos' public API (v4.60 to v4.80) offers no way to add an endpoint to
// the service's HTTP server: its own components call RegisterEndpoint on
// the resource manager, which Resources wraps without exposing it. This
// reaches the manager through Resources.XUnwrapper, whose Unwrap method
// returns it, by reflection (its result type is internal to Benthos), and
// uses it only if it has that one method: the HTTP server, its address,
// TLS and basic auth stay Benthos' own, and nothing else of Benthos'
// internals is touched. It fails closed: should a release change either
// method, ok is false (TestRegistrarOf fails first), and callers say what
// they cannot do. A server of duostream's own would have to copy Benthos'
// http settings and take another port.
func RegistrarOf(res *service.Resources) (reg Registrar, ok bool) {
	if res == nil {
		return nil, false
	}
	unwrap := reflect.ValueOf(res.XUnwrapper()).MethodByName("Unwrap")
	if !unwrap.IsValid() || unwrap.Type().NumIn() != 0 || unwrap.Type().NumOut() != 1 {
		return nil, false
	}
	reg, ok = unwrap.Call(nil)[0].Interface().(Registrar)
	return reg, ok
}
