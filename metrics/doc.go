// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package metrics holds duostream's Benthos metrics exporters. Importing it
// registers them with the global Benthos environment.
package metrics
