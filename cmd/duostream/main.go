// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Command duostream is a Benthos distribution that pulls Cisco Duo Admin API
// logs and normalizes them to Panther's Duo schemas. It has every command of
// the Benthos CLI (run, lint, test, list, streams, ...) plus demo and check.
//
// It differs from a stock Benthos build in three ways, all for safety: the
// HTTP server binds 127.0.0.1:4195 unless a config sets http.address; the
// streams REST API is off unless `duostream streams --streams-api` asks for
// it, and even then never returns a stream's config; and the components
// that run host programs (command, subprocess) are left out.
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/duostream/duostream/cache"
	_ "github.com/duostream/duostream/input"
	_ "github.com/duostream/duostream/metrics"
	_ "github.com/duostream/duostream/output"
	_ "github.com/duostream/duostream/processor"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// defaultHTTPAddress is where the Benthos HTTP server (metrics, health,
// and in streams mode the opt-in REST API) listens when a config does not
// set http.address. Benthos' own default is 0.0.0.0:4195.
const defaultHTTPAddress = "127.0.0.1:4195"

// programRunners are the components of Benthos' io and pure sets that run
// programs on the host: the command processor and the subprocess input,
// output and processor. Anyone who can write a config, or post one to the
// streams API, could run anything with them, so the distribution leaves
// them out. Removing a name removes every component kind of that name.
var programRunners = []string{"command", "subprocess"}

func main() {
	service.RunCLI(context.Background(), cliOptions()...)
}

// cliOptions returns the options of the duostream CLI. Each call returns
// options with their own state, so a test can build several.
func cliOptions() []service.CLIOptFunc {
	env := environment()
	api := &streamsAPI{}
	return []service.CLIOptFunc{
		service.CLIOptSetBinaryName("duostream"),
		service.CLIOptSetProductName("duostream"),
		service.CLIOptSetVersion(Version, ""),
		service.CLIOptSetDocumentationURL("https://github.com/duostream/duostream/tree/main/docs"),
		service.CLIOptSetEnvironment(env),
		service.CLIOptSetMainSchemaFrom(func() *service.ConfigSchema { return mainSchema(env) }),
		service.CLIOptCustomRunFlags(api.flags(), api.extract),
		service.CLIOptOnConfigParse(api.onConfigParse),
		service.CLIOptAddCommand(demoCommand()),
		service.CLIOptAddCommand(checkCommand()),
	}
}

// environment returns the components of the distribution: everything
// registered (Benthos' io and pure sets and duostream's own) except the
// program runners.
func environment() *service.Environment {
	return service.GlobalEnvironment().Without(programRunners...)
}

// mainSchema returns the config schema of every command that reads a
// config (run, streams, lint, echo, test, studio), with http.address
// defaulting to loopback. A config that sets http.address, or
// `--set http.address=...`, still wins.
func mainSchema(env *service.Environment) *service.ConfigSchema {
	s := env.FullConfigSchema(Version, "")
	s.SetFieldDefault(defaultHTTPAddress, "http", "address")
	return s
}
