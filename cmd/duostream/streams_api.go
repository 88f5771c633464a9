// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"errors"
	"net/http"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/duostream/duostream/internal/endpoint"
)

const (
	// streamsAPIFlag turns on the streams REST API of `duostream streams`.
	streamsAPIFlag = "streams-api"
	// streamsAPIEnv is the environment variable equivalent of the flag.
	streamsAPIEnv = "DUOSTREAM_STREAMS_API"
	// benthosNoAPIFlag is Benthos' own flag of the streams command that
	// keeps the REST API off.
	benthosNoAPIFlag = "no-api"
	// streamCRUDPath matches the requests of Benthos' streams API endpoint
	// "/streams/{id}", which reads (GET) and writes one stream's config.
	// It is spelled differently so that Benthos' own registration of its
	// endpoint, which comes later, does not replace this one's handler.
	streamCRUDPath = "/streams/{id:[^/]+}"
)

// streamsAPI makes Benthos' streams REST API opt-in and keeps it from
// returning secrets when it is on.
//
// Benthos (v4.60 to v4.80) serves the API whenever `streams` runs without --no-api.
// Its GET /streams/{id} returns the stream's config as read, after
// environment variables were substituted and without scrubbing secret
// fields, so it hands out ${DUO_SECRET_KEY} to anyone who can reach the
// HTTP server; POST /streams/{id} also substitutes environment variables
// into the posted config before storing it for GET to return. The other
// endpoints of the API return no config (GET /streams lists ids and
// uptimes; /debug/config/* is the service config with secrets scrubbed).
//
// So the API is off unless --streams-api (or DUOSTREAM_STREAMS_API=true)
// is given, and when it is on, /streams/{id} is answered by a handler that
// refuses: streams are listed with GET /streams, replaced as a set with
// POST /streams, and their metrics read at /streams/{id}/stats.
//
// The HTTP server listens before the streams manager registers its
// endpoints, so the refusing route is registered first, as soon as the
// service's manager exists: the server's router takes the first route that
// matches, and Benthos' own /streams/{id} never answers.
type streamsAPI struct {
	// enabled is set when `streams` runs with the API on.
	enabled bool
}

func (a *streamsAPI) flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{
			Name:    streamsAPIFlag,
			EnvVars: []string{streamsAPIEnv},
			Usage: "streams command only: serve the streams REST API (GET/POST /streams, /streams/{id}/stats, /resources) on the HTTP server; " +
				"off by default. /streams/{id} stays closed because a stream's config holds its secrets. " +
				"Whoever can reach the API can run pipelines with this process's environment: keep http.address on loopback or set http.basic_auth",
		},
	}
}

// extract runs before run and streams read their config. In streams mode it
// keeps Benthos' API off unless it was asked for.
func (a *streamsAPI) extract(c *cli.Context) error {
	if c.Command == nil || c.Command.Name != "streams" {
		return nil
	}
	if !c.Bool(streamsAPIFlag) {
		// Setting Benthos' own --no-api on the parsed command line is how
		// its streams command learns that the API is off; there is no
		// CLIOpt for it.
		return c.Set(benthosNoAPIFlag, "true")
	}
	if c.Bool(benthosNoAPIFlag) {
		return errors.New("--" + streamsAPIFlag + " and --" + benthosNoAPIFlag + " contradict each other: give one")
	}
	a.enabled = true
	return nil
}

// onConfigParse runs once the service's manager exists, before the streams
// manager registers its endpoints. With the API on it registers the route
// that refuses /streams/{id}, or stops the process if it cannot.
func (a *streamsAPI) onConfigParse(pConf *service.ParsedConfig) error {
	if !a.enabled {
		return nil
	}
	reg, ok := endpoint.RegistrarOf(pConf.Resources())
	if !ok {
		return errors.New("cannot close /streams/{id} of the streams API, which would return secrets: run without --" + streamsAPIFlag)
	}
	reg.RegisterEndpoint(streamCRUDPath,
		"Closed in duostream: a stream's config holds its secrets. List streams with GET /streams, replace them with POST /streams.",
		refuseStreamCRUD)
	return nil
}

// refuseStreamCRUD answers every request to /streams/{id}.
func refuseStreamCRUD(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		http.Error(w, "duostream does not serve stream configs: they hold secrets. GET /streams lists the streams and their status.", http.StatusForbidden)
		return
	}
	http.Error(w, "duostream does not serve /streams/{id}: replace the set of streams with POST /streams.", http.StatusMethodNotAllowed)
}
