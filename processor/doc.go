// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package processor holds duostream's Benthos processors. Importing it
// registers them with the global Benthos environment.
package processor
