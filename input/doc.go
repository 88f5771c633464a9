// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package input holds duostream's Benthos inputs. Importing it registers
// them with the global Benthos environment.
package input
