// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package output holds duostream's Benthos outputs (Kafka and S3 delivery).
// Importing it registers them with the global Benthos environment.
package output
