// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package config holds duostream's example pipelines. They are plain Benthos
// YAML files, tested with `duostream test ./config/...`; this package embeds
// the ones the binary runs itself.
package config

import _ "embed"

// DuoToStdout is config/duo-to-stdout.yaml, which `duostream demo` runs
// against the built-in Duo API simulator.
//
//go:embed duo-to-stdout.yaml
var DuoToStdout []byte
