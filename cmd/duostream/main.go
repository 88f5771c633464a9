// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Command duostream is a Benthos distribution that pulls Cisco Duo Admin API
// logs and normalizes them to Panther's Duo schemas. It has every command of
// the Benthos CLI (run, lint, test, list, streams, ...) plus demo.
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

func main() {
	service.RunCLI(context.Background(),
		service.CLIOptSetBinaryName("duostream"),
		service.CLIOptSetProductName("duostream"),
		service.CLIOptSetVersion(Version, ""),
		service.CLIOptSetDocumentationURL("https://github.com/duostream/duostream/tree/main/docs"),
		service.CLIOptAddCommand(demoCommand()),
	)
}
